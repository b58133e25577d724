"""The job journal: an accepted job ends in exactly one reply, across crashes and restarts of the process."""

from __future__ import annotations

import logging

from conftest import wait_for
from test_telegram import Bot, tone_bytes  # noqa: F401  (the module fixture)
from test_tree import Script

from transhades.media import TelegramFile
from transhades.messages import Drain, GetStatus, JobRequest
from transhades.telegram.desk import Route
from transhades.telegram.fake import FakeTelegram
from transhades.telegram.journal import Journal, random_id
from transhades.telegram.outbox import Outgoing

MEDIA = TelegramFile(5, 77, "fid-x", "AgADx", 3000, "voice", "audio/ogg", 2.0)


def job(job_id: str = "tg-5-77-77", task: str = "transcribe") -> tuple[JobRequest, Route]:
    return (JobRequest(job_id, "5", MEDIA, "tg:AgADx", "alpha", "id", (("dg", "whisper"),), task=task),
            Route(job_id, 5, 5, 77, "en", "text", task=task))


class Wall:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------------------------------------ the store


def test_a_job_is_accepted_once_and_read_back_whole_after_reopening(store_target):
    path = store_target
    journal = Journal(path)
    request, route = job()
    assert journal.accept(request, route) is True
    assert journal.accept(request, route) is False, "the same update delivered again is not a second job"
    journal.status_message(route.job_id, 1234)
    journal.close()

    (again,) = Journal(path).unfinished()
    assert again.request == request and again.route == route
    assert again.state == "accepted" and again.status_message == 1234 and again.parts == []


def test_a_translation_job_is_read_back_as_one(store_target):
    journal = Journal(store_target)
    request, route = job("tr-5-80", task="translate")
    journal.accept(request, route)
    (again,) = Journal(store_target).unfinished()
    assert again.request.task == again.route.task == "translate"


def test_a_reply_is_written_down_before_it_is_sent_and_the_job_is_done_when_every_part_is_out(store_target):
    journal = Journal(store_target)
    request, route = job()
    journal.accept(request, route)
    buttons = [[("Translate", "tr:tg-5-77-77"), ("Summary", "sum:tg-5-77-77"), ("SRT", "srt:tg-5-77-77")]]
    parts = journal.replying(route.job_id, [Outgoing("text", 5, "one", reply_to=77),
                                            Outgoing("document", 5, "all", reply_to=77, file_name="t.txt", data=b"\x00x",
                                                     buttons=buttons),
                                            Outgoing("edit", 5, "Done.", message_id=9)])
    assert [p for p, _ in parts] == [0, 1, 2]
    assert parts[0][1].random_id == random_id(route.job_id, 0) != parts[1][1].random_id
    assert parts[2][1].random_id is None, "an edit needs no idempotency key"
    assert journal.part_sent(route.job_id, 0) is False

    (left,) = Journal(store_target).unfinished()
    assert left.state == "replying"
    assert [(p, i.kind, i.data, i.random_id) for p, i in left.parts] == \
        [(1, "document", b"\x00x", random_id(route.job_id, 1)), (2, "edit", None, None)]
    assert [[tuple(b) for b in row] for row in left.parts[0][1].buttons] == buttons, "the buttons under it too"
    journal.part_sent(route.job_id, 1)
    assert journal.part_sent(route.job_id, 2) is True
    assert journal.unfinished() == [] and journal.counts() == {"done": 1}


def test_a_deposed_fronts_journal_writes_are_refused_once_a_newer_front_claimed_it(store_target):
    """Fencing: two fronts' journals over one database; once the newer term has claimed it, the older front can
    neither accept a job, nor write a reply down, nor mark one sent; the newer one does all of it, and a claim
    never lowers the term."""
    import pytest

    from transhades.telegram.journal import Fenced

    old, new = Journal(store_target, term=lambda: 1), Journal(store_target, term=lambda: 2)
    try:
        old.claim(1)
        request, route = job("tg-5-1-1")
        assert old.accept(request, route)
        new.claim(2)
        old.claim(1)  # a late claim of the older term changes nothing
        with pytest.raises(Fenced):
            old.accept(*job("tg-5-2-2"))
        with pytest.raises(Fenced):
            old.replying("tg-5-1-1", [Outgoing("text", 5, "halo", reply_to=1)])
        assert not new.knows("tg-5-2-2")
        assert new.accept(*job("tg-5-2-2"))
        assert [n for n, _ in new.replying("tg-5-1-1", [Outgoing("text", 5, "halo", reply_to=1)])] == [0]
        with pytest.raises(Fenced):
            old.part_sent("tg-5-1-1", 0)
        assert new.part_sent("tg-5-1-1", 0)
    finally:
        old.close()
        new.close()


def test_random_ids_are_stable_signed_64_bit_and_distinct():
    ids = {random_id(f"tg-1-{n}-{n}", part) for n in range(200) for part in range(3)}
    assert len(ids) == 600 and all(-(1 << 63) <= i < (1 << 63) and i != 0 for i in ids)
    assert random_id("tg-1-2-3", 0) == random_id("tg-1-2-3", 0)


def test_finished_jobs_are_pruned_after_the_keep_time_and_unfinished_ones_never(store_target):
    wall = Wall()
    journal = Journal(store_target, keep_seconds=3600, wall=wall)
    for name in ("tg-1-1-1", "tg-1-2-2"):
        journal.accept(*job(name))
    journal.replying("tg-1-1-1", [Outgoing("text", 5, "t")])
    journal.part_sent("tg-1-1-1", 0)
    wall.now += 3599
    assert journal.prune() == 0
    wall.now += 2
    assert journal.prune() == 1
    assert journal.counts() == {"accepted": 1}


def test_a_row_an_older_version_wrote_differently_is_left_out_with_one_log_line(store_target, caplog):
    journal = Journal(store_target)
    journal.accept(*job("tg-1-1-1"))
    journal.accept(*job("tg-1-2-2"))
    journal._db.run("UPDATE jobs SET route = '{\"job\": 1}' WHERE job_id = 'tg-1-1-1'")
    with caplog.at_level(logging.ERROR, "transhades.journal"):
        assert [u.route.job_id for u in journal.unfinished()] == ["tg-1-2-2"]
    assert "tg-1-1-1 cannot be read back" in caplog.text


# ------------------------------------------------------------------------------------------------ the bot


def transcripts(world: FakeTelegram, note) -> list:
    return [s for s in world.sent if s.reply_to == note.id and " by " in s.text and s.kind == "text"]


def test_a_job_cut_off_by_a_stop_is_finished_by_the_next_start_and_answered_once(tmp_path, tone_bytes):
    script, world = Script(), FakeTelegram()
    script.delay["alpha"] = 4.0  # longer than the first process lives
    first = Bot(tmp_path, script, world=world, status_delay_seconds=0)
    note = first.voice(tone_bytes)
    wait_for(lambda: script.calls, what="transcription under way")
    first.stop()  # the process goes away with the job in flight
    assert transcripts(world, note) == []

    script.delay["alpha"] = 0.0
    second = Bot(tmp_path, script, world=world, status_delay_seconds=0)
    try:
        wait_for(lambda: transcripts(world, note), timeout=20, what="the resumed job's transcript")
        wait_for(second.tree.quiet, what="the bot to have nothing left to do")
        assert len(transcripts(world, note)) == 1
        statuses = [s for s in world.sent if s.kind == "text" and s.reply_to == note.id and " by " not in s.text]
        assert len(statuses) == 1, "the resumed job edits the status message it already has"
        assert second.tree.registry.get("bot") is not None
    finally:
        second.stop()


def test_a_reply_that_went_out_just_before_a_crash_is_not_sent_again(tmp_path, tone_bytes):
    b = Bot(tmp_path, Script(), world=FakeTelegram())
    try:
        b.world.crash_after_send = ConnectionResetError("the connection broke after the message went out")
        note = b.voice(tone_bytes)  # its first send is the transcript itself (answered within the status delay)
        wait_for(lambda: b.world.crash_after_send is None, what="the crash after sending")
        wait_for(lambda: b.tree.flow.status().count("completed") >= 1, what="the job")
        wait_for(b.tree.quiet, what="the restarted bot to resend what it did not hear back about")
        assert len(transcripts(b.world, note)) == 1
        assert b.world.refused_repeats == 1, "the resend was refused by its random_id"
    finally:
        b.stop()


def test_the_same_update_delivered_twice_is_one_job(tmp_path, tone_bytes):
    b = Bot(tmp_path, Script(), world=FakeTelegram())
    try:
        note = b.voice(tone_bytes)
        b.send(note)
        wait_for(lambda: transcripts(b.world, note), what="the transcript")
        wait_for(b.tree.quiet, what="the bot to have nothing left to do")
        assert len(transcripts(b.world, note)) == 1 and b.script.calls.count("alpha") == 1
    finally:
        b.stop()


def test_a_user_over_the_rate_limit_is_told_when_to_send_again_and_admins_are_not_limited(tmp_path, tone_bytes):
    b = Bot(tmp_path, Script(), world=FakeTelegram(), user_jobs_per_minute=2, admins=[900])
    try:
        notes = [b.voice(tone_bytes) for _ in range(3)]
        b.wait_text("You have sent 2 files in the last minute; please send this one again in")
        wait_for(lambda: all(transcripts(b.world, n) for n in notes[:2]), what="the first two transcripts")
        assert transcripts(b.world, notes[2]) == []
        admin = b.world.user(900)
        for _ in range(3):
            b.voice(tone_bytes, user=admin)
        wait_for(lambda: len([t for t in b.texts(900) if " by " in t]) == 3, what="all three of the admin's")
    finally:
        b.stop()


def test_while_draining_new_files_are_parked_and_the_next_start_transcribes_them(tmp_path, tone_bytes):
    script, world = Script(), FakeTelegram()
    first = Bot(tmp_path, script, world=world)
    note = None
    try:
        assert first.tree.registry.get("bot").ask(Drain(), timeout=5) == 0
        note = first.voice(tone_bytes)
        first.wait_text("The bot is restarting; your file is saved")
        assert first.tree.dispatcher.ask(GetStatus(), timeout=5).count("submitted") == 0, \
            "the bot told the dispatcher nothing before it answered"
        assert script.calls == [] and transcripts(world, note) == []
    finally:
        first.stop()
    second = Bot(tmp_path, script, world=world)
    try:
        wait_for(lambda: transcripts(world, note), what="the parked job's transcript")
        assert len(transcripts(world, note)) == 1
    finally:
        second.stop()


def test_the_data_directory_is_private(tmp_path):
    import os
    import stat

    (tmp_path / "data").mkdir(mode=0o755)
    os.chmod(tmp_path / "data", 0o755)
    b = Bot(tmp_path, Script(), world=FakeTelegram())
    try:
        assert stat.S_IMODE(os.stat(tmp_path / "data").st_mode) == 0o700
        assert (tmp_path / "data" / "journal.sqlite3").exists()
    finally:
        b.stop()


# ------------------------------------------------------------------------------------------------ the desk alone


def test_the_desk_writes_the_reply_down_marks_each_part_and_prunes_as_it_goes(tmp_path, monkeypatch):
    from transhades.messages import Completed
    from transhades.telegram import journal as journal_module
    from transhades.telegram.desk import DeskRules, FrontDesk, StartJob
    from transhades.telegram.settings import UserSettings
    from transhades.transcript import Segment, Transcript

    monkeypatch.setattr(journal_module, "PRUNE_EVERY", 2)
    wall = Wall()
    journal = Journal(tmp_path / "j.sqlite3", keep_seconds=60, wall=wall)
    desk = FrontDesk(DeskRules((("alpha", "openai"),)), UserSettings(tmp_path / "u.sqlite3"), now=lambda: 0.0,
                     journal=journal)
    world = FakeTelegram()
    user = world.user(5)

    def finish(note) -> None:
        (start,) = desk.on_update(note)
        assert isinstance(start, StartJob)
        text = "word " * 1200  # two messages
        desk.on_event(start.route, Completed(start.route.job_id, Transcript(text, "en", 1.0, "alpha",
                                                                             (Segment(0, 1, text),)), False))
        parts = [item for item in desk.outbox.queue if isinstance(item.key, tuple) and item.key[0] == "reply"]
        assert [p.random_id for p in parts] == [random_id(start.route.job_id, n) for n in range(2)]
        assert journal.counts().get("replying") == 1
        for part in parts:
            desk.sent(part.key, 1)
        desk.outbox.queue.clear()

    finish(world.media_message(user, b"one"))
    assert journal.counts() == {"done": 1}
    wall.now += 61
    finish(world.media_message(user, b"two"))  # the second accepted job prunes the first, now old
    assert journal.counts() == {"done": 1}


def test_the_desk_forgets_a_jobs_media_once_it_ends_either_way(tmp_path):
    from transhades.errors import BadInput
    from transhades.messages import Completed, Failed
    from transhades.telegram.desk import DeskRules, FrontDesk, StartJob
    from transhades.telegram.history import History
    from transhades.telegram.settings import UserSettings
    from transhades.transcript import Transcript

    history = History(tmp_path / "h.sqlite3")
    desk = FrontDesk(DeskRules((("local", "local"),)), UserSettings(tmp_path / "u.sqlite3"), now=lambda: 0.0,
                     history=history)
    world = FakeTelegram()
    user = world.user(5)
    (ok,) = desk.on_update(world.media_message(user, b"one"))
    (bad,) = desk.on_update(world.media_message(user, b"two"))
    assert isinstance(ok, StartJob) and set(desk.followups.media) == {ok.route.job_id, bad.route.job_id}
    desk.on_event(ok.route, Completed(ok.route.job_id, Transcript("kept with its file", "en", 1.0, "local"), False))
    desk.on_event(bad.route, Failed(bad.route.job_id, BadInput("not audio")))
    assert desk.followups.media == {}, "no job's file reference outlives it in memory"
    assert history.get(5, ok.route.job_id).media == ok.request.media, "the kept transcript has it instead"
