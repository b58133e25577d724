"""What /forget erases, what keep_days prunes, and what one user can cost the others: through the bot against the
fake Telegram, with real SQLite files (scanned byte for byte) and real PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import wait_for
from servers import OwnRedis
from test_telegram import Bot, tone_bytes  # noqa: F401  (the module's fixture)
from test_tree import Script

from transhades.clock import ManualClock
from transhades.messages import Prune
from transhades.telegram.history import History
from transhades.telegram.journal import Journal
from transhades.transcript import Segment, Transcript


def every_byte(root: Path) -> bytes:
    """Every file the bot wrote under ``root``: databases, their WAL and shared-memory files, sessions."""
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink())


@pytest.fixture
def bots(tmp_path):
    made = []

    def start(**kw) -> Bot:
        made.append(Bot(tmp_path, kw.pop("script", Script()), **kw))
        return made[-1]

    yield start
    for b in made:
        b.stop()


def forget(b: Bot, user) -> str:
    b.send(b.world.text_message(user, "/forget"))
    prompt = wait_for(lambda: next((s for s in reversed(b.world.sent) if s.chat_id == user.id and s.buttons
                                    and s.buttons[0][0][1].startswith("forget:yes")), None), what="the question")
    b.send(b.world.callback(user, prompt.buttons[0][0][1], prompt.message_id))
    return wait_for(lambda: next((s.text for s in b.world.sent if s.kind == "edit" and
                                  s.message_id == prompt.message_id), None), what="the answer to /forget")


def test_after_forget_no_file_the_bot_wrote_holds_a_word_the_user_said(bots, tmp_path, tone_bytes):
    script = Script()
    b = bots(script=script)
    ayu, budi = b.user, b.world.user(777, "id")
    script.text_override = "Kata sandinya zebrafinch, jangan bilang siapa pun."
    b.voice(tone_bytes, user=ayu)
    b.wait_text("zebrafinch")
    b.send(b.world.text_message(ayu, "/language id"))  # a setting too
    b.wait_text("Language: Indonesian (id).")
    wait_for(b.tree.quiet, what="Ayu's reply out")
    script.text_override = "Burung kolibri terbang."
    b.voice(tone_bytes + b"budi", user=budi)
    b.wait_text("kolibri", chat_id=777)
    wait_for(b.tree.quiet, what="Budi's reply out")
    assert b"zebrafinch" in every_byte(tmp_path), "kept (history, cache) before /forget"

    answer = forget(b, ayu)
    assert answer == ("Deleted: 1 kept transcript(s) with their search index, 1 cached transcript(s), "
                      "1 delivery record(s), your settings. Nothing about you is kept now.")
    wait_for(b.tree.quiet, what="the erasure done")
    raw = every_byte(tmp_path)
    assert b"zebrafinch" not in raw, "no table, index, free page or WAL file keeps it"
    assert b"kolibri" in raw, "Budi's transcript is his, and stays"
    data = Path(b.config.data_dir)
    journal = sqlite3.connect(data / "journal.sqlite3")
    assert journal.execute("SELECT COUNT(*) FROM jobs WHERE user_id = 501").fetchone() == (0,)
    assert journal.execute("SELECT COUNT(*) FROM jobs WHERE user_id = 777").fetchone() == (1,)
    users = sqlite3.connect(data / "users.sqlite3")
    assert users.execute("SELECT COUNT(*) FROM prefs WHERE user_id = 501").fetchone() == (0,)

    b.send(b.world.text_message(ayu, "/history"))
    assert b.wait_text("Nothing kept yet", chat_id=501)
    b.send(b.world.text_message(budi, "/search kolibri"))
    assert "«kolibri»" in b.wait_text("Ditemukan", chat_id=777)


def test_forget_while_a_note_is_being_transcribed_cancels_it_and_keeps_none_of_its_words(bots, tmp_path, tone_bytes):
    """Erasure covers work in flight: /forget confirmed while the user's note is transcribed cancels that job, says
    so, and afterwards no file holds its words (the transcription was already under way)."""
    script = Script()
    script.delay["alpha"] = 2.0
    script.text_override = "Rahasia kami adalah okapiwhisper."
    b = bots(script=script)
    b.voice(tone_bytes)
    wait_for(lambda: "alpha" in script.calls, what="the transcription under way")
    answer = forget(b, b.user)
    assert "Nothing about you is kept now" in answer
    assert b.wait_text("Cancelled your 1 running job(s): nothing of them will be kept.")
    wait_for(b.tree.quiet, timeout=30, what="the cancelled job to end")
    time.sleep(2.5)  # the provider's answer, had anything waited for it
    wait_for(b.tree.quiet, timeout=30, what="everything settled")
    assert b"okapiwhisper" not in every_byte(tmp_path), "no history, cache or journal file keeps its words"
    b.send(b.world.text_message(b.user, "/history"))
    assert b.wait_text("Nothing kept yet")


def test_the_journal_keeps_a_replys_words_only_until_telegram_has_them(bots, tmp_path, tone_bytes):
    script = Script()
    b = bots(script=script)
    script.text_override = "Rahasia dapur: gulamerah pekat."
    b.world.send_floods = [1]  # the first send waits a second: the reply is written down, not out yet
    b.voice(tone_bytes)
    b.wait_text("gulamerah", timeout=30)
    wait_for(b.tree.quiet, what="every part out")
    rows = sqlite3.connect(Path(b.config.data_dir) / "journal.sqlite3").execute(
        "SELECT item, sent_at FROM reply_parts").fetchall()
    assert rows and all(sent is not None and "gulamerah" not in item for item, sent in rows), "at once, in the rows"
    b.tree.registry.tell("history", Prune())  # the hourly prune
    wait_for(b.tree.quiet, what="the prune")
    journal_files = b"".join(p.read_bytes() for p in Path(b.config.data_dir).glob("journal.sqlite3*"))
    assert b"gulamerah" not in journal_files, "and from the files with the hourly scrub"


def test_keep_days_is_enforced_by_a_periodic_prune_on_disk(tmp_path):
    from transhades.actors.history import PRUNE_SECONDS, HistoryActor
    from transhades.messages import Ping
    from transhades.supervision.registry import Registry
    from transhades.telegram.commands import Commands
    from transhades.telegram.outbox import Outbox
    from transhades.telegram.settings import UserSettings

    clock = ManualClock()
    history = History(tmp_path / "history.sqlite3", keep_days=1, wall=clock.wall)
    journal = Journal(tmp_path / "journal.sqlite3", 3600, clock.wall)
    said = "Catatan lama tentang ubikayu."
    history.add(501, "old", Transcript(said, "id", 2.0, "local", (Segment(0.0, 2.0, said),)))
    commands = Commands(SimpleNamespace(max_reply_messages=3, query_seconds=2.0), UserSettings(tmp_path / "u.db"),
                        Outbox(), lambda user: set(), history, journal=journal)
    ref = HistoryActor.start("history", SimpleNamespace(exited=lambda *a: None), registry=Registry(), commands=commands,
                             clock=clock, prune=lambda: {"history": history.prune(), "journal": journal.prune()})
    try:
        assert b"ubikayu" in every_byte(tmp_path)
        clock.advance(PRUNE_SECONDS)  # an hour on: younger than a day, kept
        ref.ask(Ping())  # it has handled the prune the hour brought
        assert history.get(501, "old") is not None
        clock.advance(86400)  # a day later the hourly prune forgets it
        wait_for(lambda: history.get(501, "old") is None, what="the prune")
        wait_for(lambda: b"ubikayu" not in every_byte(tmp_path), what="the words gone from the files")
    finally:
        ref.stop()


def test_while_one_user_searches_a_huge_transcript_another_users_note_is_taken_at_once(bots, tone_bytes,
                                                                                       monkeypatch):
    b = bots()
    slow = threading.Event()
    search = History.search

    def slow_search(self, *args, **kwargs):  # as slow as a broad query over megabytes once was
        slow.set()
        time.sleep(3)
        return search(self, *args, **kwargs)

    def meanwhile(send, *args, **kwargs) -> None:  # Telegram's side hands each update over and waits for it
        threading.Thread(target=send, args=args, kwargs=kwargs, daemon=True).start()

    monkeypatch.setattr(History, "search", slow_search)
    meanwhile(b.send, b.world.text_message(b.user, "/search anything"))
    assert slow.wait(10)
    other = b.world.user(778, "en")
    sent_at = time.monotonic()
    meanwhile(b.voice, tone_bytes, user=other)
    journal = Path(b.config.data_dir) / "journal.sqlite3"
    wait_for(lambda: sqlite3.connect(journal).execute("SELECT COUNT(*) FROM jobs WHERE user_id = 778").fetchone()[0],
             timeout=1.0, what="the other user's note taken (written down) within 1 s")
    b.wait_text("by alpha", chat_id=778, timeout=10)
    assert time.monotonic() - sent_at < 2.5, "and answered while the search still ran"
    b.wait_text("No transcript of yours says", timeout=10)


def test_a_search_over_two_megabytes_is_answered_or_called_too_broad_never_stalls(tmp_path):
    history = History(tmp_path / "history.sqlite3")
    words = " ".join(f"kata{n % 5000} pasar ikan sayur" for n in range(100_000))  # about 2.2 MB
    history.add(1, "big", Transcript(words, "id", 3600.0, "local"))
    started = time.monotonic()
    found = history.search(1, "pasar ikan", seconds=5.0)
    took = time.monotonic() - started
    assert found[0].passage.count("«") == 1 and "pasar" in found[0].passage and took < 5.0


@pytest.mark.parametrize("store_target", ["sqlite", "postgres"], indirect=True)
def test_a_query_past_its_deadline_is_stopped_and_the_database_still_answers(store_target):
    from transhades.sql import Database, TooSlow

    db = Database(store_target)
    endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n"
    started = time.monotonic()
    with pytest.raises(TooSlow):
        with db.deadline(0.2):
            db.rows(endless)
    assert time.monotonic() - started < 3.0
    assert db.rows("SELECT 1") == [(1,)], "the connection is fine after it"


def test_each_user_has_a_limit_of_commands_per_minute_and_is_told_once(bots):
    b = bots()  # the default: 20 commands a minute
    for _ in range(25):
        b.send(b.world.text_message(b.user, "/help"))
    wait_for(b.tree.quiet, what="every command handled")
    texts = b.texts()
    assert sum(t.startswith("Send or forward") for t in texts) == 20
    assert sum(t.startswith("You have sent 20 commands in the last minute") for t in texts) == 1
    other = b.world.user(779, "en")
    b.send(b.world.text_message(other, "/help"))
    b.wait_text("Send or forward", chat_id=779)


def test_forget_on_postgresql_leaves_no_row_of_the_user(bots, tone_bytes, postgres_url):
    import psycopg

    script = Script()
    b = bots(script=script, database_url=postgres_url)
    script.text_override = "Pesan rahasia tentang durian."
    b.voice(tone_bytes)
    b.wait_text("durian")
    b.send(b.world.text_message(b.user, "/format srt"))
    b.wait_text("Format: srt.")
    wait_for(b.tree.quiet, what="the reply out")
    answer = forget(b, b.user)
    assert answer.startswith("Deleted: 1 kept transcript(s)") and "your settings" in answer
    with psycopg.connect(postgres_url) as db:
        for table in ("history", "history_media", "jobs", "prefs"):
            assert db.execute(f"SELECT COUNT(*) FROM {table} WHERE user_id = 501").fetchone() == (0,), table
        assert db.execute("SELECT COUNT(*) FROM reply_parts").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM history WHERE text LIKE '%durian%'").fetchone() == (0,)


def test_forget_while_the_redis_cache_is_down_says_it_is_not_finished_and_finishes_when_it_is_back(tmp_path,
                                                                                                   tone_bytes):
    import redis

    server = OwnRedis(tmp_path)
    script = Script()
    b = Bot(tmp_path, script, cache={"backend": "redis", "url": server.url})
    try:
        script.text_override = "Nomor rekening saya rahasia."
        b.voice(tone_bytes)
        b.wait_text("rekening")
        wait_for(b.tree.quiet, what="the transcript cached")
        server.stop()
        answer = forget(b, b.user)
        assert "could not be reached" in answer and "Nothing about you is kept now" not in answer, answer
        assert answer.startswith("Deleted: 1 kept transcript(s)")
        server.start()  # with its append-only file: the cached transcript is still there
        client = redis.Redis.from_url(server.url)

        def said() -> list:
            return [k for k in client.keys("*") if client.type(k) == b"string" and b"rekening" in client.get(k)]

        assert said(), "still cached"
        answer = forget(b, b.user)
        assert answer == "Deleted: 1 cached transcript(s). Nothing about you is kept now.", answer
        assert not said() and not client.keys("*owne*"), "gone with its owners once Redis is back"
    finally:
        b.stop()
        server.stop()
