"""One large file over every credential: ranges pulled by the sessions with room, written at their place, a
FloodWait moving a session's ranges to the others at once, an expired file reference refreshed; small files stay
on one session. Through the fake Telegram, the real audio path and the real cache."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest
from conftest import make_media, wait_for
from test_telegram import Bot
from test_tree import Script

from transhades.dispatch.tasks import RANGE_PARTS, RANGES_ABOVE, Job, download_tasks
from transhades.media import TelegramFile
from transhades.messages import JobRequest
from transhades.telegram.desk import media_of


@pytest.fixture(scope="module")
def large_wav(tmp_path_factory) -> bytes:
    """About 19 MB of audio: large enough to be fetched in ranges."""
    from transhades.audio.prepare import ffmpeg_binary

    path = make_media(ffmpeg_binary(), tmp_path_factory.mktemp("large") / "large.wav", "-f", "lavfi", "-i",
                      "sine=frequency=330:duration=100", "-ar", "48000", "-ac", "2")
    data = path.read_bytes()
    assert len(data) > RANGES_ABOVE
    return data


def job_of(size: int) -> Job:
    media = TelegramFile(1, 2, "fid", "uniq", size, "video")
    return Job(JobRequest("j", "u", media), lambda e: None, ())


def test_a_large_file_is_cut_into_whole_part_ranges_and_a_small_one_is_not():
    tasks = download_tasks(job_of(20 * 2**20 + 5), sessions=3)
    assert [(t.first, t.count) for t in tasks] == [(0, RANGE_PARTS), (8, RANGE_PARTS), (16, 5)]
    assert len(download_tasks(job_of(20 * 2**20), sessions=1)) == 3, "one session too: read as the ranges land"
    assert len(download_tasks(job_of(300_000), sessions=3)) == 1, "a voice note stays on one session"


def cached_hashes(b: Bot) -> set[str]:
    with sqlite3.connect(b.config.cache.path) as db:
        return {row[0] for row in db.execute("SELECT key FROM transcripts") if row[0].startswith("sha256:")}


@pytest.mark.slow
def test_every_session_fetches_ranges_a_floodwait_moves_them_and_the_file_comes_out_whole(tmp_path, large_wav):
    b = Bot(tmp_path, Script(), credentials=3)
    try:
        b.world.floods["API-2"] = [60]
        b.world.flood_after_chunks["API-2"] = 2  # mid-range: after two of its parts
        note = b.voice(large_wav, kind="audio", mime_type="audio/wav")
        b.wait_text("by alpha", timeout=60)
        assert len([c for c, n in b.world.downloads.items() if n]) == 3, f"every session took ranges: {b.world.downloads}"
        wait_for(lambda: b.status()["credential:API-2"]["state"] == "quarantined", what="API-2 quarantined")
        assert f"sha256:{hashlib.sha256(large_wav).hexdigest()}" in cached_hashes(b), "reassembled byte for byte"
        assert len([t for t in b.texts() if "by alpha" in t]) == 1 and note.id
    finally:
        b.stop()


@pytest.mark.slow
def test_an_expired_file_reference_is_refreshed_for_a_range(tmp_path, large_wav):
    b = Bot(tmp_path, Script(), credentials=2)
    try:
        note = b.world.media_message(b.user, large_wav, kind="audio", mime_type="audio/wav")
        found = media_of(note)
        b.world.expire(TelegramFile(note.chat.id, note.id, found.file_id, found.file_unique_id, 0, "audio"))
        b.send(note)
        b.wait_text("by alpha", timeout=60)
        assert f"sha256:{hashlib.sha256(large_wav).hexdigest()}" in cached_hashes(b)
    finally:
        b.stop()
