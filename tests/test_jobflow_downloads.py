"""Telegram downloads in the dispatcher's rules: credential choice, FloodWait failover, all-quarantined waits."""

from __future__ import annotations

import pytest
from test_jobflow import Driver, transcript

from transhades.config import DispatcherConfig
from transhades.dispatch.jobflow import Quarantine, WakeUp
from transhades.errors import ProviderUnavailable, RateLimited
from transhades.media import LocalFile, TelegramFile
from transhades.messages import (
    Completed,
    Download,
    Fingerprint,
    JobRequest,
    LookupTranscript,
    PrepareAudio,
    Stage,
    Transcribe,
    Waiting,
)


def credentials(d: Driver, *names: str) -> None:
    for name in names:
        d.change(f"credential:{name}", f"credential:{name}", "running")


def voice(n: int = 1) -> TelegramFile:
    return TelegramFile(100, 10 + n, f"fid-{n}", f"AgAD{n}", 2_000_000, "voice", "audio/ogg", 5.0)


def submit_voice(d: Driver, job_id: str, n: int = 1, user: str = "u1") -> None:
    media = voice(n)
    d.apply(d.flow.submit(JobRequest(job_id, user, media, source_key=f"tg:{media.file_unique_id}"),
                          d.events.append))


def test_telegram_job_checks_the_source_key_then_downloads_then_fingerprints_the_download():
    d = Driver()
    credentials(d, "API-1")
    submit_voice(d, "j1")
    d.done(d.take(LookupTranscript), None)
    download = d.take(Download, "credential:API-1")
    assert download.message.media == voice(1)
    d.done(download, LocalFile("/tmp/j1/source"))
    fingerprint = d.take(Fingerprint)
    assert fingerprint.message.media == LocalFile("/tmp/j1/source")
    d.done(fingerprint, "abc")
    d.done(d.take(LookupTranscript), None)
    assert d.take(PrepareAudio).message.media == LocalFile("/tmp/j1/source")


def test_flood_wait_quarantines_the_credential_and_moves_the_download_in_the_same_step():
    d = Driver()
    credentials(d, "API-1", "API-2")
    submit_voice(d, "j1")
    d.done(d.take(LookupTranscript), None)
    first = d.take(Download)
    effects = d.flow.task_failed(first.message.ticket, RateLimited("API-1: FloodWait 120 s", 120))
    moved = [e for e in effects if getattr(e, "to", None) == "credential:API-2"]
    assert moved and isinstance(moved[0].message, Download), "the job moves on without waiting for anything"
    assert Quarantine("credential:API-1", 120, "API-1: FloodWait 120 s") in effects


def test_blocked_credential_is_not_asked_again_before_its_deadline():
    d = Driver(limits=DispatcherConfig(20, 3, 2))
    credentials(d, "API-1", "API-2")
    submit_voice(d, "j1")
    d.done(d.take(LookupTranscript), None)
    d.fail(d.take(Download, "credential:API-1"), RateLimited("FloodWait", 300))
    d.done(d.take(Download, "credential:API-2"), LocalFile("/tmp/j1"))
    for n in range(2, 6):
        submit_voice(d, f"j{n}", n, user=f"u{n}")
        d.done(d.take(LookupTranscript), None)
        send = d.take(Download)
        assert send.to == "credential:API-2"
        if n < 5:
            d.done(send, LocalFile(f"/tmp/j{n}"))  # j5 keeps API-2 busy
    d.clock.advance(300)
    d.change("credential:API-1", "credential:API-1", "running")
    submit_voice(d, "j9", 9, user="u9")
    d.done(d.take(LookupTranscript), None)
    assert d.take(Download).to == "credential:API-1", "back after its deadline, and the least busy"


def test_all_credentials_quarantined_tells_the_shortest_wait_and_resumes_by_itself():
    d = Driver()
    credentials(d, "API-1", "API-2")
    submit_voice(d, "j1")
    d.done(d.take(LookupTranscript), None)
    d.fail(d.take(Download), RateLimited("FloodWait", 600))
    d.fail(d.take(Download), RateLimited("FloodWait", 90))
    (wait,) = [e for e in d.events if isinstance(e, Waiting)]
    assert wait.seconds == pytest.approx(90) and "Telegram" in wait.reason
    assert not d.sent and not d.finals()
    d.clock.advance(90)
    d.change("credential:API-2", "credential:API-2", "running")
    assert d.take(Download).to == "credential:API-2"


def test_duplicate_is_answered_from_the_cache_while_every_credential_is_quarantined():
    d = Driver()
    credentials(d, "API-1")
    submit_voice(d, "j1")
    d.done(d.take(LookupTranscript), None)
    d.fail(d.take(Download), RateLimited("FloodWait", 600))
    submit_voice(d, "j2", 1, user="u2")  # the same file, forwarded by someone else
    d.done(d.take(LookupTranscript), transcript("already known"))
    done = [e for e in d.finals() if e.job_id == "j2"]
    assert done and isinstance(done[0], Completed) and done[0].cached


def test_least_busy_credential_wins_then_the_better_success_rate():
    d = Driver()
    credentials(d, "API-1", "API-2", "API-3")
    submit_voice(d, "f1", 11, user="f1")
    d.done(d.take(LookupTranscript), None)
    first = d.take(Download)
    assert first.to == "credential:API-1"  # all equal: name order
    d.fail(first, ProviderUnavailable("connection reset"))
    retry = d.take(Download)
    assert retry.to == "credential:API-2", "equally idle, but API-1 just failed"
    d.done(retry, LocalFile("/tmp/f1"))
    d.sent.clear()
    targets = []
    for n, user in ((1, "a"), (2, "b"), (3, "c")):
        submit_voice(d, f"j{n}", n, user=user)
        d.done(d.take(LookupTranscript), None)
        targets.append(d.take(Download).to)
    # idle and reliable first (the least recently used of them first); then idle but failing beats busy
    assert targets == ["credential:API-3", "credential:API-2", "credential:API-1"]
    assert d.flow.status().credentials["credential:API-1"].success_rate == 0.0


def test_download_progress_is_reported_as_a_stage():
    d = Driver()
    credentials(d, "API-1")
    submit_voice(d, "j1")
    d.done(d.take(LookupTranscript), None)
    send = d.take(Download)
    d.apply(d.flow.task_progress(send.message.ticket, 0.4))
    assert Stage("j1", "downloading", fraction=0.4) in d.events


def test_downloads_beyond_a_sessions_slots_wait_in_the_dispatcher_not_behind_a_flood():
    d = Driver(limits=DispatcherConfig(20, 20, 2))
    credentials(d, "API-1", "API-2")
    for n in range(1, 6):
        submit_voice(d, f"j{n}", n)
        d.done(d.take(LookupTranscript), None)
    first = [s for s in d.sent if isinstance(s.message, Download)]
    assert sorted(s.to for s in first) == ["credential:API-1", "credential:API-1", "credential:API-2",
                                           "credential:API-2"], "two slots per session; the fifth waits"
    flooded = next(s for s in first if s.to == "credential:API-1")
    d.sent.clear()
    d.fail(flooded, RateLimited("FloodWait", 60))
    moved = [s for s in d.sent if isinstance(s.message, Download)]
    assert not moved, "API-2 is full and API-1 is blocked: nothing is queued behind the flood"
    other = next(s for s in first if s.to == "credential:API-2")
    d.done(other, LocalFile("/tmp/x"))
    assert d.take(Download).to == "credential:API-2", "the freed slot takes the oldest waiting download"


def finish_download(d: Driver, job_id: str) -> str:
    download = d.take(Download)
    d.done(download, LocalFile(f"/tmp/{job_id}"))
    return download.to


def test_sustained_load_spreads_evenly_over_every_credential():
    d = Driver(limits=DispatcherConfig(100, 100, 2))
    credentials(d, "API-1", "API-2", "API-3")
    counts: dict[str, int] = {}
    for n in range(1, 31):  # one at a time: every session is idle whenever a download starts
        submit_voice(d, f"j{n}", n, user=f"u{n}")
        d.done(d.take(LookupTranscript), None)
        to = finish_download(d, f"j{n}")
        counts[to] = counts.get(to, 0) + 1
    assert counts == {"credential:API-1": 10, "credential:API-2": 10, "credential:API-3": 10}
    status = d.flow.status().credentials
    assert {name: stats.downloads for name, stats in status.items()} == counts


def test_an_old_failure_stops_counting_against_a_credential():
    d = Driver(limits=DispatcherConfig(100, 100, 2))
    credentials(d, "API-1", "API-2")
    submit_voice(d, "f1", 1)
    d.done(d.take(LookupTranscript), None)
    d.fail(d.take(Download), ProviderUnavailable("connection reset"))  # API-1 failed once
    finish_download(d, "f1")
    assert d.flow.status().credentials["credential:API-1"].success_rate == 0.0
    d.clock.advance(301)
    assert d.flow.status().credentials["credential:API-1"].success_rate == 1.0


def test_downloads_per_minute_paces_each_credential_and_wakes_when_a_slot_is_due():
    d = Driver(limits=DispatcherConfig(100, 100, 2))
    d.flow.downloads_per_minute = 2
    credentials(d, "API-1")
    for n in (1, 2):
        submit_voice(d, f"j{n}", n, user=f"u{n}")
        d.done(d.take(LookupTranscript), None)
        finish_download(d, f"j{n}")
    d.clock.advance(10)
    submit_voice(d, "j3", 3, user="u3")
    d.done(d.take(LookupTranscript), None)
    assert not [s for s in d.sent if isinstance(s.message, Download)], "a third download within the minute"
    (wake,) = [e for e in d.other if isinstance(e, WakeUp)]
    assert wake.seconds == pytest.approx(50.0)
    d.clock.advance(49)
    d.apply(d.flow.tick())
    assert not [s for s in d.sent if isinstance(s.message, Download)]
    d.clock.advance(1)
    d.apply(d.flow.tick())
    assert d.take(Download).message.job_id == "j3"


# ------------------------------------------------------------------------------- a large file: ranges, converted meanwhile


def submit_large(d: Driver, job_id: str = "big", mib: int = 20) -> TelegramFile:
    media = TelegramFile(100, 99, "fid-big", "AgADbig", mib << 20, "video", "video/mp4", 600.0)
    d.apply(d.flow.submit(JobRequest(job_id, "u1", media, source_key="tg:AgADbig"), d.events.append))
    d.done(d.take(LookupTranscript), None)
    return media


def ranges_sent(d: Driver) -> list:
    return [s for s in list(d.sent) if isinstance(s.message, Download)]


def downloaded_large() -> Driver:
    """A large file over two sessions, every range landed; its early preparation is sent, not answered."""
    d = Driver(limits=DispatcherConfig(5, 5, 2))
    credentials(d, "API-1", "API-2")
    submit_large(d)
    for p in ranges_sent(d):
        d.sent.remove(p)
        d.done(p, LocalFile("/tmp/big/source"))
    return d


def test_a_large_file_is_prepared_while_it_downloads_and_its_audio_waits_for_the_cache_by_hash():
    from test_jobflow import audio as audio_of

    from transhades.dispatch.effects import Arrived

    d = Driver(limits=DispatcherConfig(5, 5, 2))
    d.flow.roster.slot_counts["credential:"] = 4
    credentials(d, "API-1", "API-2")
    submit_large(d)
    parts = ranges_sent(d)
    assert sorted(p.message.part for p in parts) == [(0, 8), (8, 8), (16, 4)]
    first = next(p for p in parts if p.message.part == (0, 8))
    d.sent.remove(first)
    d.done(first, LocalFile("/tmp/big/source"))
    assert Arrived("big", 20 << 20, 0, 8) in d.other
    early = d.take(PrepareAudio)
    assert early.message.follow is True and early.message.media == LocalFile("/tmp/big/source"), \
        "preparation starts with the first range, reading the file as it lands"
    d.done(early, audio_of("big"))  # it may finish before the download is verified and looked up
    for p in [p for p in parts if p is not first]:
        d.sent.remove(p)
        d.done(p, LocalFile("/tmp/big/source"))
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), None)
    assert not [s for s in d.sent if isinstance(s.message, PrepareAudio)], "not prepared twice"
    d.done(d.take(Transcribe), transcript("the lecture"))
    assert isinstance(d.finals()[0], Completed)


def test_a_file_that_cannot_be_read_while_downloading_is_prepared_from_disk_afterwards():
    from transhades.errors import BadInput

    d = downloaded_large()
    early = d.take(PrepareAudio)
    assert early.message.follow
    d.fail(early, BadInput("moov atom not found"))  # an mp4 whose index is at its end
    assert not d.finals(), "not a failed job: the file is prepared again once whole"
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), None)
    again = d.take(PrepareAudio)
    assert again.message.follow is False


def test_a_cache_hit_by_hash_answers_without_waiting_for_the_preparation():
    d = downloaded_large()
    d.take(PrepareAudio)  # still running
    d.done(d.take(Fingerprint), "abc")
    d.done(d.take(LookupTranscript), transcript("seen before"))
    assert d.finals()[0].transcript.text == "seen before"
