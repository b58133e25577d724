"""Property tests: whatever the config file or a Telegram user sends, nothing crashes; bad input becomes one
clear line (config) or a short reply (chat), and the journal gives back exactly what it was given."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pyrogram import enums, types

from transhades import config as config_lib
from transhades.config import ConfigError, DispatcherConfig
from transhades.dispatch.jobflow import JobFlow
from transhades.errors import ProviderUnavailable
from transhades.media import LocalFile, TelegramFile
from transhades.messages import JobRequest
from transhades.telegram.desk import DeskRules, FrontDesk, Route
from transhades.telegram.journal import Journal
from transhades.telegram.settings import UserSettings

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=30))
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                        max_leaves=20)
KEYS = {
    "": ["providers", "cache", "dispatcher", "supervision", "audio", "data_dir", "telegram", "logging", "http"],
    "provider": list(config_lib.settings(config_lib.ProviderConfig)),
    "telegram": ["bot_token", "session_dir", "credentials", "max_file_mb", "allowed_users", "admins",
                 "downloads_per_credential", "user_jobs_per_minute", "journal_keep_hours", "drain_seconds"],
}


@st.composite
def config_documents(draw):
    """Mostly the right shape, with wrong values in random places."""
    provider = {key: draw(scalars) for key in draw(st.lists(st.sampled_from(KEYS["provider"]), max_size=6))}
    provider.setdefault("name", draw(st.sampled_from(["groq", "x y", "", "local"])))
    provider.setdefault("kind", draw(st.sampled_from(["openai", "deepgram", "local", "nope"])))
    telegram = {key: draw(anything) for key in draw(st.lists(st.sampled_from(KEYS["telegram"]), max_size=5))}
    document = {"providers": draw(st.one_of(st.just([provider]), anything)), "telegram": telegram}
    for key in draw(st.lists(st.sampled_from(KEYS[""]), max_size=4)):
        document[key] = draw(anything)
    return draw(st.one_of(st.just(document), anything))


@FUZZ
@given(config_documents(), st.dictionaries(st.sampled_from(["GROQ_API_KEY", "PORT", "X"]), st.text(max_size=8)))
# Cases the fuzzer found once, kept so every run checks them whatever it draws.
@example({"providers": [{"name": "l", "kind": "local", "instances": float("inf")}]}, {})
@example({"providers": [{"name": "l", "kind": "local", "beam_size": float("nan")}]}, {})
@example({"providers": [{"name": "l", "kind": "local"}], "dispatcher": {"retries": float("-inf")}}, {})
@example({"providers": [{"name": "l", "kind": "local"}], "supervision": {"backoff": {"max_seconds": float("nan")}}}, {})
@example({"providers": [{"name": "l", "kind": "local"}], "cache": {"max_items": 1e300}}, {})
@example({"providers": [{"name": "l", "kind": "local"}], "telegram": {"credentials": [{"name": "x"}], "drain_seconds": 1e400}}, {})
@example("a scalar document", {})
@example([1, 2], {})
def test_any_config_document_is_accepted_or_refused_with_one_line_problems(document, env):
    try:
        config_lib.parse(document, env)
    except ConfigError as exc:
        assert exc.problems and all(isinstance(p, str) and p and "\n" not in p for p in exc.problems)


_DESK_DIR = Path(tempfile.mkdtemp(prefix="transhades-fuzz-"))

users = st.builds(types.User, id=st.integers(1, 2**40), is_bot=st.booleans(), first_name=st.text(max_size=5),
                  language_code=st.one_of(st.none(), st.sampled_from(["en", "id", "xx", ""])))
chats = st.builds(types.Chat, id=st.integers(-2**40, 2**40), type=st.sampled_from(list(enums.ChatType)))
texts = st.one_of(st.none(), st.text(max_size=60),
                  st.builds(lambda c, a: f"/{c} {a}", st.sampled_from(
                      ["start", "help", "status", "cancel", "provider", "language", "format", "t", "zzz",
                       "language@transhades_bot", "format@other_bot"]), st.text(max_size=20)))
files = st.fixed_dictionaries({"file_id": st.text(min_size=1, max_size=8), "file_unique_id": st.text(min_size=1, max_size=8),
                               "file_size": st.one_of(st.none(), st.integers(0, 5 * 10**9)),
                               "mime_type": st.one_of(st.none(), st.sampled_from(["audio/ogg", "video/mp4",
                                                                                  "application/pdf", ""]))})


@st.composite
def updates(draw):
    user, chat = draw(st.one_of(st.none(), users)), draw(chats)
    if draw(st.integers(0, 4)) == 0:
        data = draw(st.one_of(st.text(max_size=20), st.sampled_from(["prov:groq", "prov:auto", "lang:id", "fmt:srt",
                                                                     "dgm:whisper", "lang:" + "x" * 50, "fmt:"])))
        message = types.Message(id=draw(st.integers(1, 10**6)), chat=chat)
        return types.CallbackQuery(id="q", from_user=user or types.User(id=1), chat_instance="c",
                                   message=draw(st.one_of(st.none(), st.just(message))), data=data)
    kind = draw(st.sampled_from(["voice", "audio", "video", "video_note", "document", None]))
    media = {}
    if kind:
        fields = draw(files)
        builder = {"voice": types.Voice, "audio": types.Audio,
                   "video": lambda **kw: types.Video(width=320, height=240, codec="h264", **kw),
                   "video_note": lambda **kw: types.VideoNote(length=240, **kw), "document": types.Document}[kind]
        media[kind] = builder(**fields, duration=draw(st.integers(0, 10**6))) if kind != "document" else \
            builder(**fields, file_name=draw(st.one_of(st.none(), st.just("../../etc/passwd"), st.text(max_size=9))))
    reply = draw(st.one_of(st.none(), st.builds(lambda m: m, st.just(types.Message(
        id=7, chat=chat, voice=types.Voice(file_id="f", file_unique_id="u", duration=3, file_size=10))))))
    return types.Message(id=draw(st.integers(1, 10**6)), from_user=user, chat=chat, text=draw(texts),
                         caption=draw(st.one_of(st.none(), st.text(max_size=20))), reply_to_message=reply, **media)


@FUZZ
@given(st.lists(updates(), min_size=1, max_size=6), st.integers(0, 3))
def test_the_front_desk_handles_any_update_without_crashing(batch, per_minute):
    rules = DeskRules((("groq", "openai"), ("dg", "deepgram")), max_file_mb=2000, user_jobs_per_minute=per_minute,
                      bot_username="transhades_bot")
    desk = FrontDesk(rules, UserSettings(_DESK_DIR / "users.sqlite3"), now=lambda: 0.0,
                     journal=Journal(":memory:"))
    for update in batch:
        for action in desk.on_update(update):
            if hasattr(action, "request"):  # a job: its media is Telegram's, never a path on this machine
                assert isinstance(action.request.media, TelegramFile)
    for item in desk.outbox.queue:
        assert len(item.text or "") <= 4096


requests = st.builds(
    lambda chat, message, unique, size, kind, lang, fmt, provider: (
        JobRequest(f"tg-{chat}-{message}-{message}", str(chat), TelegramFile(chat, message, "fid", unique, size, kind,
                                                                             None, None, "a/../b.ogg"),
                   f"tg:{unique}", provider, lang),
        Route(f"tg-{chat}-{message}-{message}", chat, chat, message, "en", fmt)),
    st.integers(-2**50, 2**50), st.integers(1, 2**31), st.text(min_size=1, max_size=20), st.integers(0, 4 * 10**9),
    st.sampled_from(["voice", "audio", "video", "video_note", "document"]), st.one_of(st.none(), st.text(max_size=4)),
    st.sampled_from(["text", "txt", "srt", "vtt"]), st.one_of(st.none(), st.text(max_size=10)))


@FUZZ
@given(st.lists(requests, max_size=5, unique_by=lambda r: r[0].id))
def test_the_journal_gives_back_exactly_what_it_was_given(jobs):
    journal = Journal(":memory:")
    for request, route in jobs:
        assert journal.accept(request, route)
    back = journal.unfinished()
    assert [(u.request, u.route) for u in back] == list(jobs)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["done", "failed", "progress", "cancel"]), st.integers(-5, 50),
                          st.floats(allow_nan=True)), max_size=30))
def test_the_dispatchers_flow_ignores_stray_and_late_messages(messages):
    flow = JobFlow([("groq", "openai")], DispatcherConfig(), now=lambda: 0.0)
    flow.submit(JobRequest("j1", "u", LocalFile("/nonexistent.ogg")), lambda event: None)
    for kind, ticket, number in messages:
        if kind == "done":
            flow.task_done(ticket + 1000, None)  # tickets nobody waits for
        elif kind == "failed":
            flow.task_failed(ticket + 1000, ProviderUnavailable("late"))
        elif kind == "progress":
            flow.task_progress(ticket, number)
        else:
            flow.cancel(f"j{ticket}")
    assert set(flow.jobs) <= {"j1"}
