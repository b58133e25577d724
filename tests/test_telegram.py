"""The bot end to end against the in-process fake Telegram: the real actor tree, real ffmpeg, real pyrogram
types and exceptions; a scripted provider so that each test is about Telegram behaviour."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
from conftest import make_media, wait_for
from pyrogram import enums
from test_tree import Script

from transhades import config as config_lib
from transhades.app.tree import start_tree
from transhades.telegram.fake import FakeGateway, FakeTelegram


@pytest.fixture(scope="module")
def tone_bytes(tmp_path_factory) -> bytes:
    from transhades.audio.prepare import ffmpeg_binary

    path = make_media(ffmpeg_binary(), tmp_path_factory.mktemp("tg") / "note.ogg", "-f", "lavfi", "-i",
                      "sine=frequency=330:duration=3", "-c:a", "libopus", "-b:a", "24k")
    return path.read_bytes()


@pytest.fixture(scope="module")
def big_bytes(tmp_path_factory) -> bytes:
    """A 2.6 MB WAV: three 1 MiB chunks to download."""
    from transhades.audio.prepare import ffmpeg_binary

    path = make_media(ffmpeg_binary(), tmp_path_factory.mktemp("tg") / "long.wav", "-f", "lavfi", "-i",
                      "sine=frequency=300:duration=30", "-ar", "44100", "-ac", "1")
    return path.read_bytes()


class Bot:
    def __init__(self, tmp_path: Path, script: Script, credentials: int = 2, world: FakeTelegram | None = None,
                 languages: tuple[str, ...] = (), database_url: str | None = None, cache: dict | None = None,
                 **telegram: object) -> None:
        self.world = world or FakeTelegram()
        self.script = script
        self.session_dir = tmp_path / "sessions"
        raw = {
            "providers": [{"name": n, "kind": "openai", "base_url": "http://127.0.0.1:9", "api_key": "k"}
                          for n in ("alpha", "beta")] + [{"name": "dg", "kind": "deepgram",
                                                           "base_url": "http://127.0.0.1:9", "api_key": "k"}],
            "cache": cache or {"backend": "sqlite", "path": str(tmp_path / "cache.sqlite3")},
            "audio": {"workers": 1, "temp_dir": str(tmp_path / "tmp")},
            "supervision": {"backoff": {"min_seconds": 0.01, "max_seconds": 0.05}},
            "data_dir": str(tmp_path / "data"),
            "languages": list(languages),
            "telegram": {"bot_token": "123456:" + "x" * 35, "session_dir": str(self.session_dir),
                         "credentials": [{"name": f"API-{i}", "api_id": 1000 + i, "api_hash": "h" * 32}
                                         for i in range(1, credentials + 1)],
                         "send_interval_seconds": 0.01, "edit_interval_seconds": 0.02, **telegram},
        }
        if database_url:
            raw["database_url"] = database_url
        self.config = config_lib.parse(raw, env={})
        self.tree = start_tree(self.config, provider_factory=script.factory,
                               gateway_factory=lambda c, r: FakeGateway(self.world, c.name, self.session_dir, r))
        wait_for(lambda: self.world.receiver is not None, what="the receiving session")
        self.user = self.world.user(501, "en")

    def send(self, update) -> None:
        self.world.deliver(update)

    def voice(self, data: bytes, user=None, **kw):
        message = self.world.media_message(user or self.user, data, **kw)
        self.send(message)
        return message

    def texts(self, chat_id: int | None = None) -> list[str]:
        return self.world.texts_to(chat_id or self.user.id)

    def wait_text(self, needle: str, chat_id: int | None = None, timeout: float = 20) -> str:
        return wait_for(lambda: next((t for t in self.texts(chat_id) if needle in t), None), timeout,
                        what=f"a message containing {needle!r}; got {self.texts(chat_id)}")

    def status(self) -> dict:
        return {s["name"]: s for s in self.tree.status()}

    def stop(self) -> None:
        self.tree.stop()


@pytest.fixture
def bot(tmp_path):
    made = []

    def start(**kw) -> Bot:
        made.append(Bot(tmp_path, Script(), **kw))
        return made[-1]

    yield start
    for b in made:
        b.stop()


def test_voice_note_gets_one_status_message_then_the_transcript(bot, tone_bytes):
    b = bot(status_delay_seconds=0)
    note = b.voice(tone_bytes)
    b.wait_text("by alpha")
    def edits_of_status():
        sent = [s for s in b.world.sent if s.chat_id == b.user.id]
        statuses = [s for s in sent if s.kind == "text" and s.reply_to == note.id and "by alpha" not in s.text]
        assert len(statuses) == 1, "exactly one status message per job; the rest are edits of it"
        return [s.text for s in sent if s.kind == "edit" and s.message_id == statuses[0].message_id]

    wait_for(lambda: edits_of_status()[-1:] == ["Done."], what="the status message to say Done.")
    result = [s for s in b.world.sent if "by alpha" in s.text][0]
    assert result.reply_to == note.id


def test_flood_wait_mid_download_moves_the_job_to_another_credential(bot, big_bytes):
    b = bot(credentials=2)
    b.world.floods["API-1"] = [120]
    b.world.flood_after_chunks["API-1"] = 1  # FloodWait after the first 1 MiB chunk
    b.voice(big_bytes, kind="audio", mime_type="audio/wav")
    b.wait_text("by alpha")
    assert b.world.downloads == {"API-1": 1, "API-2": 1}
    wait_for(lambda: b.status()["credential:API-1"]["state"] == "quarantined", what="API-1 quarantined")
    assert b.status()["credential:API-2"]["state"] == "running"


def test_all_credentials_flood_waited_tells_the_user_and_finishes_by_itself(bot, tone_bytes):
    b = bot(credentials=2)
    b.world.floods = {"API-1": [2], "API-2": [1]}
    b.voice(tone_bytes)
    waiting = b.wait_text("slow down")
    assert "about 1 s" in waiting
    assert "Files I transcribed before are still answered at once." in waiting, "as the original bot said"
    b.wait_text("by alpha", timeout=15)


def test_duplicate_is_answered_from_cache_while_every_credential_is_flood_waited(bot, tone_bytes):
    b = bot(credentials=1)
    first = b.voice(tone_bytes)
    b.wait_text("by alpha")
    b.world.floods["API-1"] = [300]
    other = b.world.user(777, "en", name="Budi")
    b.send(b.world.forward(first, other))
    b.wait_text("by alpha", chat_id=other.id)
    assert b.world.downloads["API-1"] == 1, "the duplicate needed no download"


def test_an_instant_answer_comes_without_a_status_message(bot, tone_bytes):
    b = bot(status_delay_seconds=5)
    first = b.voice(tone_bytes)
    b.wait_text("by alpha")
    other = b.world.user(778, "en")
    b.send(b.world.forward(first, other))
    b.wait_text("by alpha", chat_id=other.id)
    assert [s.kind for s in b.world.sent if s.chat_id == other.id] == ["text"], "just the transcript"


def test_restarted_credential_reuses_its_session_and_never_logs_in_again(bot, tone_bytes):
    b = bot(credentials=2)
    wait_for(lambda: dict(b.world.logins) == {"API-1": 1, "API-2": 1}, what="both sessions logged in once")
    for name in ("API-1", "API-2"):
        mode = stat.S_IMODE(os.stat(b.session_dir / f"{name}.session").st_mode)
        assert mode == 0o600
    b.tree.registry.tell("credential:API-1", object())  # an unknown message crashes it
    wait_for(lambda: b.status()["credential:API-1"]["restarts_in_window"] == 1
             and b.status()["credential:API-1"]["state"] == "running", what="API-1 restarted")
    wait_for(lambda: b.world.receiver is not None, what="the receiving session back")
    b.voice(tone_bytes)
    b.wait_text("by alpha")
    assert dict(b.world.logins) == {"API-1": 1, "API-2": 1}


def test_expired_file_reference_is_refreshed_in_the_downloading_session(bot, tone_bytes):
    from transhades.telegram.desk import media_of

    b = bot(credentials=1)
    note = b.world.media_message(b.user, tone_bytes)
    found = media_of(note)
    from transhades.media import TelegramFile

    b.world.expire(TelegramFile(note.chat.id, note.id, found.file_id, found.file_unique_id, 0, "voice"))
    b.send(note)
    b.wait_text("by alpha")


def test_things_that_are_not_media_get_a_short_answer(bot):
    b = bot()
    b.send(b.world.text_message(b.user, "hello there"))
    b.voice(b"%PDF-1.4 not audio", kind="document", mime_type="application/pdf", file_name="cv.pdf")
    wait_for(lambda: len([t for t in b.texts() if t.startswith("I can transcribe")]) == 2, what="two answers")
    assert not b.world.downloads


def test_broken_audio_gets_a_clear_error(bot):
    b = bot()
    b.voice(b"OggS" + bytes(3000))
    assert b.wait_text("Could not") == "Could not transcribe this file: it is not an audio or video file I can read"


def test_file_over_the_limit_is_refused_without_downloading(bot, tone_bytes):
    b = bot(max_file_mb=5)
    b.voice(tone_bytes, kind="video", mime_type="video/mp4", size=2_000_000_000)
    assert b.wait_text("limit") == "This file is 2000 MB; the limit is 5 MB."
    assert not b.world.downloads


def test_a_recording_over_the_length_limit_is_refused_without_downloading(bot, tone_bytes):
    b = bot()  # audio.max_duration_seconds: 6 h by default
    b.voice(tone_bytes, duration=7 * 3600)
    assert b.wait_text("limit") == "This recording is 7.0 h long; the limit is 6.0 h."
    assert not b.world.downloads


def test_allowlist_keeps_strangers_out(bot, tone_bytes):
    b = bot(allowed_users=[501])
    stranger = b.world.user(999, "en")
    b.voice(tone_bytes, user=stranger)
    assert b.wait_text("private", chat_id=999) == "Sorry, this bot is private."
    b.voice(tone_bytes)
    b.wait_text("by alpha")
    assert b.world.downloads["API-1"] == 1


@pytest.mark.parametrize("data", ["fmt:srt", "lang:id", "prov:beta", "dgm:whisper", "prov:auto"])
def test_a_stranger_pressing_a_button_stores_nothing_and_gets_no_reply(bot, data):
    import sqlite3

    b = bot(allowed_users=[501])
    stranger = b.world.user(999, "en")
    b.send(b.world.callback(stranger, data, 77))  # crafted: the bot never showed them a keyboard
    b.send(b.world.callback(b.user, "fmt:txt", 78))  # an allowed user's press, to know the first was handled
    b.wait_text("Format: txt.")
    assert not [s for s in b.world.sent if s.chat_id == 999 and s.kind != "callback"]
    rows = sqlite3.connect(Path(b.config.data_dir) / "users.sqlite3").execute("SELECT user_id FROM prefs").fetchall()
    assert rows == [(501,)], "a stranger leaves no rows behind"


def test_a_transcript_longer_than_three_messages_comes_as_its_first_message_and_the_file(bot, tone_bytes):
    b = bot()
    sentence = "Kalimat ini panjang dan berisi banyak kata yang perlu dipotong dengan rapi. "
    b.script.text_override = sentence * 200  # about 15,000 characters: four messages' worth
    b.voice(tone_bytes)
    doc = wait_for(lambda: next((s for s in b.world.sent if s.kind == "document"), None), what="the .txt file")
    wait_for(b.tree.quiet, what="the reply out")
    parts = [s.text for s in b.world.sent if s.kind == "text" and s.text.startswith("Kalimat")]
    assert len(parts) == 1 and len(parts[0]) <= 4096 and parts[0].endswith("."), "cut at a sentence end"
    assert doc.file_name == "transcript.txt" and doc.data.decode() == (sentence * 200).strip()


def test_max_reply_messages_bounds_a_transcript_and_a_models_answer():
    from transhades.telegram.actions import Ask
    from transhades.telegram.followups import Followups
    from transhades.telegram.outbox import Outbox
    from transhades.telegram.replies import transcript_items
    from transhades.telegram.route import Route
    from transhades.transcript import Transcript

    text = "Satu dua tiga. " * 1000  # 15,000 characters
    route = Route("j", 5, 501, 9, "id", "text")
    assert [i.kind for i in transcript_items(route, Transcript(text, "id", 1.0, "x"), 4)] == ["text"] * 4
    assert [i.kind for i in transcript_items(route, Transcript(text, "id", 1.0, "x"), 3)] == ["text", "document"]
    outbox = Outbox()
    Followups(None, outbox, local=False, llm=1, max_messages=5, max_answer_chars=10_000_000).answered(
        Ask("ask-1", 5, 77, "en", "summary", "en"), "word " * 1_100_000, None)  # a 5.5 MB answer, under the cap
    kinds = [(item.kind, item.file_name) for item in outbox.queue]
    assert kinds == [("text", None), ("document", "summary.txt")], "at most two messages, else one and the file"
    assert outbox.queue[1].text == "The whole answer as a file." and len(outbox.queue[1].data) > 5_000_000


def test_start_help_and_unknown_commands(bot):
    b = bot()
    b.send(b.world.text_message(b.user, "/start"))
    assert "/provider" in b.wait_text("Send or forward")
    b.send(b.world.text_message(b.user, "/frobnicate"))
    b.wait_text("I do not know that command")


def test_indonesian_users_are_answered_in_indonesian(bot):
    b = bot()
    user = b.world.user(612, "id")
    b.send(b.world.text_message(user, "/help"))
    b.wait_text("Kirim atau teruskan", chat_id=612)
    b.send(b.world.text_message(user, "halo"))
    b.wait_text("Saya bisa mentranskripsi", chat_id=612)


def test_provider_choice_is_a_keyboard_and_is_persisted(bot, tone_bytes):
    b = bot()
    b.send(b.world.text_message(b.user, "/provider"))
    pick = wait_for(lambda: next((s for s in b.world.sent if s.buttons), None), what="the keyboard")
    labels = [data for row in pick.buttons for _, data in row]
    assert labels[:4] == ["prov:auto", "prov:alpha", "prov:beta", "prov:dg"]
    assert "dgm:whisper" in labels
    b.send(b.world.callback(b.user, "prov:beta", pick.message_id))
    b.wait_text("Provider: beta.")
    b.voice(tone_bytes)
    b.wait_text("by beta")
    settings = b.tree.config.data_dir
    from transhades.telegram.settings import UserSettings

    assert UserSettings(Path(settings) / "users.sqlite3").get(b.user.id).provider == "beta"


def test_deepgram_model_choice_reaches_the_provider(bot, tone_bytes):
    b = bot()
    b.send(b.world.callback(b.user, "dgm:whisper", 1))
    b.send(b.world.callback(b.user, "prov:dg", 1))
    b.wait_text("Provider: dg.")
    b.voice(tone_bytes)
    b.wait_text("by dg")
    assert b.script.models == [("dg", "whisper")]


def test_language_and_format_commands(bot, tone_bytes):
    b = bot()
    b.send(b.world.text_message(b.user, "/language id"))
    b.wait_text("Language: Indonesian (id).")
    for bad in ("klingon!", "zzz"):
        b.send(b.world.text_message(b.user, f"/language {bad}"))
        b.wait_text(f"I cannot transcribe a language called '{bad}'")
    b.send(b.world.text_message(b.user, "/format ../../x"))
    assert b.wait_text("is not a format") == "'../../x' is not a format I can send. Choose one of: text, txt, srt, vtt."
    b.send(b.world.text_message(b.user, "/format srt"))
    b.wait_text("Format: srt.")
    b.voice(tone_bytes)
    doc = wait_for(lambda: next((s for s in b.world.sent if s.kind == "document"), None), what="the srt file")
    assert doc.file_name == "transcript.srt" and doc.data.decode().startswith("1\n00:00:00,000 --> ")
    assert b.script.languages == ["id"], "the bad choices after /language id stored nothing"


def test_cancel_stops_the_users_running_job(bot, tone_bytes):
    b = bot()
    b.script.delay["alpha"] = 2.0
    b.voice(tone_bytes)
    wait_for(lambda: b.script.calls, what="transcription under way")
    b.send(b.world.text_message(b.user, "/cancel"))
    b.wait_text("Cancelled 1 job(s).")
    b.wait_text("Cancelled.")
    wait_for(b.tree.quiet, what="the provider to finish the cancelled chunk and everything after it")
    assert not any("by alpha" in t for t in b.texts()), "a cancelled job sends no transcript"


def test_status_shows_credentials_providers_queue_and_cache(bot, big_bytes):
    b = bot(credentials=2)
    b.world.floods["API-1"] = [600]
    b.voice(big_bytes, kind="audio", mime_type="audio/wav")
    b.wait_text("by alpha")
    b.send(b.world.text_message(b.user, "/status"))
    report = b.wait_text("Telegram connections:")
    assert "API-1: quarantined until" in report and "API-2: running" in report
    assert "alpha: running, breaker closed" in report
    assert "Queue: 0 running, 0 waiting" in report and "Cache: 1 transcripts, hit rate" in report


def test_status_is_for_admins_when_admins_are_set(bot):
    b = bot(admins=[1])
    b.send(b.world.text_message(b.user, "/status"))
    b.wait_text("Only admins")


def test_in_groups_the_bot_answers_only_when_addressed(bot, tone_bytes):
    b = bot()
    group = b.world.chat(-100123, enums.ChatType.SUPERGROUP)
    note = b.voice(tone_bytes, chat=group)
    b.send(b.world.text_message(b.user, "nice song", chat=group))
    wait_for(b.tree.quiet, what="the bot to handle both")
    assert not b.texts(-100123) and not b.world.downloads
    b.send(b.world.text_message(b.user, "/transcribe", chat=group, reply_to=note))
    b.wait_text("by alpha", chat_id=-100123)


def test_in_groups_a_users_history_is_never_posted_and_they_are_sent_to_a_private_chat(bot, tone_bytes):
    b = bot()
    b.voice(tone_bytes)
    b.wait_text("by alpha")  # kept for user 501
    group = b.world.chat(-100124, enums.ChatType.SUPERGROUP)
    for command in ("history", "search alpha", "export txt", "stats", "forget", "summary", "translate en"):
        b.send(b.world.text_message(b.user, f"/{command}@transhades_bot", chat=group))
    wait_for(b.tree.quiet, what="the bot to answer in the group")
    said = [s for s in b.world.sent if s.chat_id == -100124]
    assert len(said) == 7 and all(s.kind == "text" and not s.buttons for s in said)
    assert all(s.text.startswith("Your transcripts stay between us: send /") for s in said)
    assert "by alpha" not in " ".join(s.text for s in said)


def test_only_the_user_who_asked_can_answer_their_forget_question(bot, tone_bytes):
    b = bot()
    b.voice(tone_bytes)
    b.wait_text("by alpha")
    b.send(b.world.text_message(b.user, "/forget"))
    prompt = wait_for(lambda: next((s for s in b.world.sent if s.buttons and "forget:" in s.buttons[0][0][1]), None),
                      what="the forget question")
    other = b.world.user(777, "en")
    yes = prompt.buttons[0][0][1]
    b.send(b.world.callback(other, yes, prompt.message_id, chat_id=b.user.id))  # as if pressed in a shared chat
    wait_for(b.tree.quiet, what="the press handled")
    assert [s.text for s in b.world.sent if s.kind == "callback"][-1] == "This button is for the person who asked."
    assert not [s for s in b.world.sent if s.kind == "edit" and s.message_id == prompt.message_id]
    b.send(b.world.text_message(b.user, "/history"))
    b.wait_text("Your latest transcripts"), "nothing of 501's was deleted"
    b.send(b.world.callback(b.user, yes, prompt.message_id))
    b.wait_text("Deleted")


def test_flood_wait_on_sending_delays_the_reply_but_never_drops_it(bot, tone_bytes):
    b = bot()
    b.world.send_floods = [1]
    started = time.monotonic()
    b.send(b.world.text_message(b.user, "/help"))
    b.wait_text("Send or forward")
    assert time.monotonic() - started >= 0.9


def test_run_serves_the_bot_until_told_to_stop_and_exits_zero(tmp_path, tone_bytes, monkeypatch):
    import io
    import socket
    import threading
    import urllib.request

    import transhades.app.tree as supervisor
    from transhades.app.cli import run

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    world = FakeTelegram()
    config = config_lib.parse({
        "providers": [{"name": "alpha", "kind": "openai", "base_url": "http://127.0.0.1:9", "api_key": "k"}],
        "cache": {"backend": "memory"}, "audio": {"temp_dir": str(tmp_path / "tmp")}, "data_dir": str(tmp_path),
        "http": {"host": "127.0.0.1", "port": port},
        "telegram": {"bot_token": "1:x", "session_dir": str(tmp_path / "s"),
                     "credentials": [{"name": "API-1", "api_id": 1, "api_hash": "h"}],
                     "send_interval_seconds": 0.01, "edit_interval_seconds": 0.01},
    }, env={})
    script = Script()
    real_start_tree = supervisor.start_tree
    monkeypatch.setattr(supervisor, "start_tree",
                        lambda cfg, **kw: real_start_tree(cfg, provider_factory=script.factory, **kw))
    stop = threading.Event()
    outcome: list[int] = []
    err = io.StringIO()
    runner = threading.Thread(target=lambda: outcome.append(run(
        config, err, lambda c, r: FakeGateway(world, c.name, tmp_path / "s", r), stop)), daemon=True)
    runner.start()
    try:  # whatever fails, the bot is told to stop: a running bot must not keep the test process alive
        wait_for(lambda: world.receiver is not None or outcome, what="the bot to come up")
        assert not outcome, f"run ended early with {outcome}: {err.getvalue()}"
        world.deliver(world.media_message(world.user(5), tone_bytes))
        wait_for(lambda: any("by alpha" in t for t in world.texts_to(5)), what="the transcript")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        stop.set()
        runner.join(timeout=25)
    assert outcome == [0]
    assert world.receiver is None, "sessions are closed on the way out"


def test_one_credential_downloads_several_files_at_once(bot, tone_bytes):
    b = bot(credentials=1, downloads_per_credential=3)
    b.world.bytes_per_second = len(tone_bytes) / 1.0  # each download takes about a second
    for n in range(3):
        b.voice(tone_bytes, user=b.world.user(700 + n))
    for n in range(3):
        b.wait_text("by alpha", chat_id=700 + n, timeout=20)
    assert b.world.downloads["API-1"] == 3
    assert b.world.most_streaming["API-1"] == 3, "the three downloads ran side by side"


def test_messages_sent_while_the_receiving_session_restarts_are_not_lost(bot, tone_bytes):
    b = bot(credentials=2)
    receiving = b.world.receiver
    receiving.stop()  # the receiving session is down, as during a restart
    b.voice(tone_bytes)  # Telegram keeps this update meanwhile
    assert b.world.pending_updates
    receiving.start()
    b.wait_text("by alpha")


def test_the_receiving_session_asks_telegram_for_updates_it_missed(tmp_path):
    from transhades.telegram.gateway import client_kwargs

    assert client_kwargs("API-1", 1, "h", "1:x", tmp_path, True, 1, None)["skip_updates"] is False


def test_run_with_its_health_port_taken_says_so_in_one_line_and_exits_2(tmp_path):
    import io
    import socket

    from transhades.app.cli import run

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = config_lib.parse({
            "providers": [{"name": "alpha", "kind": "openai", "base_url": "http://127.0.0.1:9", "api_key": "k"}],
            "cache": {"backend": "memory"}, "audio": {"temp_dir": str(tmp_path / "tmp")}, "data_dir": str(tmp_path),
            "http": {"host": "127.0.0.1", "port": port},
            "telegram": {"bot_token": "1:x", "session_dir": str(tmp_path / "s"),
                         "credentials": [{"name": "API-1", "api_id": 1, "api_hash": "h"}]},
        }, env={})
        err = io.StringIO()
        world = FakeTelegram()
        assert run(config, err, lambda c, r: FakeGateway(world, c.name, tmp_path / "s", r)) == 2
    assert err.getvalue().count("\n") == 1
    assert err.getvalue().startswith(f"error: cannot serve /healthz and /metrics on 127.0.0.1:{port} (")
    assert world.receiver is None, "the tree it had started is stopped again"


def test_run_with_an_unusable_data_dir_or_fake_world_says_so_in_one_line_and_exits_2(tmp_path, monkeypatch):
    import io

    from transhades.app.cli import run

    (tmp_path / "file").write_text("not a directory")
    raw = {"providers": [{"name": "alpha", "kind": "openai", "base_url": "http://127.0.0.1:9", "api_key": "k"}],
           "cache": {"backend": "memory"}, "audio": {"temp_dir": str(tmp_path / "tmp")},
           "data_dir": str(tmp_path / "file" / "data"), "http": {"port": 0},
           "telegram": {"bot_token": "1:x", "session_dir": str(tmp_path / "s"),
                        "credentials": [{"name": "API-1", "api_id": 1, "api_hash": "h"}]}}
    err = io.StringIO()
    assert run(config_lib.parse(raw, env={}), err) == 2
    assert err.getvalue().count("\n") == 1
    assert err.getvalue().startswith(f"error: data_dir {tmp_path / 'file' / 'data'}: cannot create or use it (")

    raw["data_dir"] = str(tmp_path / "data")
    monkeypatch.setenv("TRANSHADES_FAKE_TELEGRAM", str(tmp_path / "missing" / "world.sqlite3"))
    err = io.StringIO()
    assert run(config_lib.parse(raw, env={}), err) == 2
    assert err.getvalue().count("\n") == 1 and "TRANSHADES_FAKE_TELEGRAM=" in err.getvalue()


def test_a_failed_run_leaves_the_callers_signal_handlers_alone(tmp_path):
    import io
    import signal
    import socket

    from transhades.app.cli import run

    before = signal.getsignal(signal.SIGINT)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = config_lib.parse({
            "providers": [{"name": "alpha", "kind": "openai", "base_url": "http://127.0.0.1:9", "api_key": "k"}],
            "cache": {"backend": "memory"}, "audio": {"temp_dir": str(tmp_path / "tmp")}, "data_dir": str(tmp_path),
            "http": {"host": "127.0.0.1", "port": taken.getsockname()[1]},
            "telegram": {"bot_token": "1:x", "session_dir": str(tmp_path / "s"),
                         "credentials": [{"name": "API-1", "api_id": 1, "api_hash": "h"}]},
        }, env={})
        run(config, io.StringIO(), lambda c, r: FakeGateway(FakeTelegram(), c.name, tmp_path / "s", r))
    assert signal.getsignal(signal.SIGINT) is before


def test_status_opens_with_the_summary_and_counts_downloads_per_credential(bot, tone_bytes):
    b = bot(credentials=3)
    b.world.floods["API-2"] = [600]
    for n in range(3):
        b.voice(tone_bytes + bytes([n]))
        b.wait_text("by alpha") if n == 0 else None
    wait_for(lambda: len([t for t in b.texts() if "by alpha" in t]) == 3, what="three transcripts")
    b.send(b.world.text_message(b.user, "/status"))
    report = b.wait_text("APIs available")
    lines = report.splitlines()
    assert lines[:3] == ["APIs available: 2/3", "Jobs running: 0/5", "Cache: 3 transcripts"], lines
    downloads = {line.split(":")[0][2:]: int(line.rsplit(", ", 1)[1].split()[0]) for line in lines
                 if line.startswith("• API-")}
    assert sum(downloads.values()) == 3 and downloads["API-2"] == 0
    from urllib.request import urlopen

    from transhades.app.health import HealthServer

    server = HealthServer(b.tree, "127.0.0.1", 0).start()
    try:
        metrics = urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10).read().decode()
    finally:
        server.stop()
    served = {line.split('"')[1]: float(line.split()[-1]) for line in metrics.splitlines()
              if line.startswith("transhades_credential_downloads_total{")}
    assert served == {name: float(count) for name, count in downloads.items()}


def test_status_speaks_indonesian_to_indonesian_users(bot):
    b = bot(credentials=2)
    user = b.world.user(613, "id")
    b.send(b.world.text_message(user, "/status"))
    report = b.wait_text("API tersedia", chat_id=613)
    assert report.startswith("API tersedia: 2/2\nPekerjaan berjalan: 0/5\nCache: 0 transkrip")
    assert "Koneksi Telegram:" in report and "API-1: berjalan, 100% berhasil" in report
    assert "Antrean: 0 berjalan, 0 menunggu" in report and "requests" not in report


def test_provider_keyboard_marks_the_current_choice(bot):
    b = bot()
    b.send(b.world.text_message(b.user, "/provider"))
    first = wait_for(lambda: next((s for s in b.world.sent if s.buttons), None), what="the keyboard")
    labels = {data: label for row in first.buttons for label, data in row}
    assert labels["prov:auto"] == "✓ automatic" and labels["prov:beta"] == "beta"
    b.send(b.world.callback(b.user, "prov:beta", first.message_id))
    b.wait_text("Provider: beta.")
    b.send(b.world.callback(b.user, "dgm:whisper", first.message_id))
    b.wait_text("Provider: Deepgram whisper.")
    b.send(b.world.text_message(b.user, "/provider"))
    second = wait_for(lambda: next((s for s in b.world.sent if s.buttons and s is not first), None),
                      what="the second keyboard")
    labels = {data: label for row in second.buttons for label, data in row}
    assert labels["prov:auto"] == "automatic" and labels["prov:beta"] == "✓ beta"
    assert labels["dgm:whisper"] == "✓ Deepgram model: whisper" and labels["dgm:nova-3"] == "Deepgram model: nova-3"


def test_a_users_telegram_language_is_a_hint_only_among_the_configured_languages(bot, tone_bytes):
    b = bot(languages=("id", "en"))
    indonesian, russian = b.world.user(620, "id"), b.world.user(621, "ru")
    b.voice(tone_bytes, user=indonesian)
    b.wait_text("by alpha", chat_id=620)
    b.voice(tone_bytes + b"x", user=russian)
    b.wait_text("by alpha", chat_id=621)
    assert b.script.languages == [None, None], "a hint is not a fixed language"
    assert b.script.detection == [(("id", "en"), "id"), (("id", "en"), None)]


def test_a_providers_error_text_never_reaches_the_user_and_the_reason_is_in_their_language(bot, tone_bytes,
                                                                                           caplog):
    import logging

    from transhades.errors import BadInput

    caplog.set_level(logging.INFO, logger="transhades")
    b = bot()
    api_hash = "h" * 32  # configured for every credential of the harness
    b.script.errors["alpha"] = BadInput(f"alpha cannot use this audio (request had Bearer sk-live-{'z' * 24}; "
                                        f"api_hash {api_hash}; token {b.config.telegram.bot_token})"
                                        ).because("unreadable")
    b.voice(tone_bytes)
    reply = b.wait_text("Could not transcribe")
    assert reply == "Could not transcribe this file: it is not an audio or video file I can read"
    ayu = b.world.user(511, "id")
    b.voice(tone_bytes + b"id", user=ayu)
    reply = b.wait_text("Tidak bisa", chat_id=511)
    assert reply == "Tidak bisa mentranskripsi file ini: ini bukan file audio atau video yang bisa saya baca"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "cannot use this audio" in logged, "the technical detail goes to the log"
    for secret in (api_hash, "sk-live-", b.config.telegram.bot_token):
        assert secret not in logged


def test_a_transcript_goes_out_word_for_word_whatever_looks_like_a_key(bot, tone_bytes):
    b = bot()
    said = ("Beli token listriknya sekarang. Kodenya 0123456789abcdef0123456789abcdef, "
            f"bukan {b.config.telegram.credentials[0].api_hash}. [klik](http://contoh.example) <b>tebal</b> __init__")
    b.script.text_override = said
    b.voice(tone_bytes)
    assert b.wait_text("Beli token") == said


def test_an_update_the_bot_crashes_on_every_time_gets_an_error_reply_not_silence(bot, tone_bytes, monkeypatch,
                                                                                caplog):
    from transhades.telegram.desk import FrontDesk

    b = bot()
    poisoned_id = []
    intake = FrontDesk._intake

    def crash_on_the_poisoned_one(self, message, target, lang):
        if message.id in poisoned_id:
            raise RuntimeError("a bug this update triggers")
        return intake(self, message, target, lang)

    monkeypatch.setattr(FrontDesk, "_intake", crash_on_the_poisoned_one)
    message = b.world.media_message(b.user, tone_bytes)
    poisoned_id.append(message.id)
    with caplog.at_level("ERROR", logger="transhades.supervisor"):
        b.send(message)
        reply = b.wait_text("internal error")
    assert reply == "Could not transcribe this file: an internal error kept me from handling it; please send it again"
    assert f"Message id={message.id} chat={b.user.id} user={b.user.id} kind=voice" in caplog.text
    b.voice(tone_bytes + b"2")  # the bot is still up and working
    b.wait_text("by alpha")


def test_a_long_recordings_status_message_shows_its_text_so_far_and_the_reply_is_the_whole(tmp_path):
    from transhades.messages import Completed, Partial, Stage
    from transhades.telegram.answers import PARTIAL_CHARS
    from transhades.telegram.desk import DeskRules, FrontDesk
    from transhades.telegram.settings import UserSettings
    from transhades.transcript import Segment, Transcript

    desk = FrontDesk(DeskRules((("alpha", "openai"),)), UserSettings(tmp_path / "u.sqlite3"), now=lambda: 0.0,
                     status_delay=0)
    world = FakeTelegram()
    (start,) = desk.on_update(world.media_message(world.user(5, "id"), b"lecture"))
    route = start.route

    def status() -> str:
        return [i for i in desk.outbox.queue if i.key == ("status", route.job_id)][-1].text

    def text(words: str) -> Transcript:
        return Transcript(words, "id", 60.0, "alpha", (Segment(0.0, 60.0, words),))

    desk.on_event(route, Stage(route.job_id, "transcribing", 1, 5, 0.0))
    assert status() == "Mentranskripsi… bagian 1 dari 5"
    desk.on_event(route, Partial(route.job_id, text("bagian pertama"), 1, 5))
    assert status().startswith("Mentranskripsi… 1 dari 5 bagian selesai") and status().endswith("bagian pertama")
    desk.on_event(route, Stage(route.job_id, "transcribing", 3, 5, 0.5))
    assert status().endswith("bagian pertama"), "the text so far stays in view"
    long_text = " ".join(f"kata{n}" for n in range(2000))
    desk.on_event(route, Partial(route.job_id, text(long_text), 4, 5))
    assert len(status()) < 4096 and status().endswith("kata1999") and "…" in status()
    assert len(status().split("\n\n", 1)[1]) <= PARTIAL_CHARS + 1
    desk.on_event(route, Completed(route.job_id, text(long_text + " akhir"), False))
    replies = [i.text for i in desk.outbox.queue if i.kind == "text" and i.key != ("status", route.job_id)]
    document = next(i for i in desk.outbox.queue if i.kind == "document")
    assert "".join(replies).replace("\n", " ").count("kata0 ") == 1, "the first message, once"
    assert document.data.decode().endswith("kata1999 akhir"), "and the whole as a file"
    assert desk.partials == {}


def test_the_language_picker_shows_names_and_a_name_is_understood(bot):
    b = bot()
    ayu = b.world.user(512, "id")
    b.send(b.world.text_message(ayu, "/language"))
    picker = wait_for(lambda: next((s for s in b.world.sent if s.chat_id == 512 and s.buttons), None),
                      what="the language picker")
    labels = [label for row in picker.buttons for label, _ in row]
    assert "Indonesia" in labels and "Inggris" in labels and "otomatis" in labels
    b.send(b.world.text_message(ayu, "/language malay"))
    assert b.wait_text("Bahasa:", chat_id=512) == "Bahasa: Melayu (ms)."
    b.send(b.world.text_message(ayu, "/language zzz"))
    assert "tidak bisa mentranskripsi bahasa 'zzz'" in b.wait_text("zzz", chat_id=512)


def test_a_note_on_a_provider_that_decodes_as_it_goes_shows_its_first_words_in_the_status_message(bot, tone_bytes):
    b = bot(status_delay_seconds=0)
    b.script.steps["alpha"], b.script.delay["alpha"] = 3, 3.0
    b.script.words_so_far = ["Selamat pagi", "Selamat pagi semuanya", "Selamat pagi semuanya, hari ini"]
    ayu = b.world.user(513, "id")
    b.voice(tone_bytes, user=ayu)
    status = b.wait_text("Mentranskripsi… sejauh ini", chat_id=513, timeout=10)
    assert status == "Mentranskripsi… sejauh ini:\n\nSelamat pagi"
    b.wait_text("by alpha", chat_id=513)
    said = [s.text for s in b.world.sent if s.chat_id == 513 and "sejauh ini" in s.text]
    assert said[-1].endswith("Selamat pagi semuanya, hari ini") or said[-1].endswith("Selamat pagi semuanya"), said
