"""Cutting long recordings: the plan as plain arithmetic, then real ffmpeg on generated media."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from conftest import make_media
from hypothesis import given, settings
from hypothesis import strategies as st

from transhades.audio import chunking
from transhades.audio.prepare import AudioPreparer, sweep_stale
from transhades.errors import BadInput


def test_recording_that_fits_is_one_span():
    assert chunking.plan(300.0, 900_000, [], max_bytes=25_000_000, chunk_seconds=600) == [
        chunking.Span(0.0, 300.0, 0.0, math.inf)]


def test_long_recording_is_cut_by_duration_with_overlap_and_tiling_keep_ranges():
    spans = chunking.plan(1800.0, 5_400_000, [], max_bytes=None, chunk_seconds=600, overlap=1.0)
    assert [(s.start, s.end) for s in spans] == [(0.0, 600.0), (599.0, 1200.0), (1199.0, 1800.0)]
    assert [(s.keep_from, s.keep_until) for s in spans] == [(0.0, 600.0), (600.0, 1200.0), (1200.0, math.inf)]


def test_byte_limit_makes_chunks_small_enough():
    # 3,000 bytes/s: a 1 MB limit allows about 306 s per chunk (with margin and overlap)
    spans = chunking.plan(1800.0, 5_400_000, [], max_bytes=1_000_000, chunk_seconds=600)
    assert len(spans) == 6
    assert all((s.end - s.start) * 3000 <= 1_000_000 * chunking.SIZE_MARGIN for s in spans)


def test_boundaries_move_to_the_middle_of_a_nearby_silence():
    silences = [(590.0, 592.0), (1300.0, 1301.0), (1205.0, 1206.0)]
    spans = chunking.plan(1800.0, 5_400_000, silences, None, chunk_seconds=650)  # 3 chunks, with room to move
    assert [s.keep_from for s in spans[1:]] == [591.0, 1205.5]


def test_far_away_silence_is_ignored():
    spans = chunking.plan(1800.0, 5_400_000, [(300.0, 302.0)], None, chunk_seconds=650)
    assert spans[1].keep_from == 600.0


def test_silences_are_read_from_the_ffmpeg_log():
    log = ("[silencedetect @ 0x1] silence_start: 17.002\n[silencedetect @ 0x1] silence_end: 20 | silence_duration: 2.998\n"
           "size=N/A\n[silencedetect @ 0x1] silence_start: -0.01\n[silencedetect @ 0x1] silence_end: 1.5 | x\n")
    assert chunking.parse_silences(log) == [(17.002, 20.0), (0.0, 1.5)]


@settings(max_examples=300, deadline=None)
@given(duration=st.floats(1.0, 30_000.0), rate=st.floats(500.0, 50_000.0),
       max_bytes=st.one_of(st.none(), st.integers(200_000, 30_000_000)),
       chunk_seconds=st.one_of(st.none(), st.floats(10.0, 3600.0)),
       silences=st.lists(st.tuples(st.floats(0, 30_000), st.floats(0.3, 5.0)), max_size=40))
def test_any_plan_tiles_the_recording_and_respects_both_limits(duration, rate, max_bytes, chunk_seconds, silences):
    size = int(duration * rate)
    silences = [(a, a + d) for a, d in silences]
    spans = chunking.plan(duration, size, silences, max_bytes, chunk_seconds, overlap=1.0)
    assert spans[0].start == 0.0 and spans[0].keep_from == 0.0 and spans[-1].end == pytest.approx(duration)
    assert spans[-1].keep_until == math.inf
    for before, after in zip(spans, spans[1:], strict=False):
        assert before.keep_until == after.keep_from and before.end == after.keep_from
        assert after.start == pytest.approx(max(0.0, after.keep_from - 1.0))
    for span in spans:
        length = span.end - span.start
        assert length > 0
        if len(spans) > 1 and chunk_seconds:
            assert length <= (chunk_seconds + 1.0) * (1 + 1e-9)
        if len(spans) > 1 and max_bytes:
            real_rate = size / duration
            assert length * real_rate <= max(max_bytes * chunking.SIZE_MARGIN, 2 * real_rate) * (1 + 1e-9)


# ------------------------------------------------------------------------------------------ real ffmpeg


@pytest.fixture(scope="module")
def lecture(tmp_path_factory) -> Path:
    """Six minutes of speech-like tone with a 3 s pause every 20 s, as opus."""
    from transhades.audio.prepare import ffmpeg_binary

    path = tmp_path_factory.mktemp("media") / "lecture.ogg"
    return make_media(ffmpeg_binary(), path, "-f", "lavfi", "-i", "sine=frequency=300:duration=360",
                      "-af", "volume='if(lt(mod(t,20),17),1,0)':eval=frame", "-c:a", "libopus", "-b:a", "32k")


def test_long_recording_is_cut_at_pauses_into_chunks_that_fit(tmp_path, lecture):
    preparer = AudioPreparer(tmp_path, chunk_seconds=90, overlap=1.0)
    prepared = preparer.prepare("lecture", lecture, max_chunk_bytes=400_000)
    chunks = prepared.chunks
    assert len(chunks) >= 4
    assert all(c.size <= 400_000 for c in chunks)
    assert all(Path(c.path).exists() for c in chunks)
    for c in chunks[1:]:
        assert c.keep_from % 20 == pytest.approx(18.5, abs=0.6), "each cut lands in the middle of a pause"
        assert c.offset == pytest.approx(c.keep_from - 1.0, abs=0.01)
    covered = sum(min(c.offset + c.duration, c.keep_until) - max(c.offset, c.keep_from) for c in chunks)
    assert covered == pytest.approx(prepared.duration, abs=1.0)
    assert prepared.duration == pytest.approx(360.0, abs=0.5)


def test_streamed_blocks_prepare_the_same_audio_as_the_file(tmp_path, lecture):
    def blocks():
        with lecture.open("rb") as handle:
            while block := handle.read(64 * 1024):
                yield block

    streamed = AudioPreparer(tmp_path / "a").prepare("s", blocks())
    from_file = AudioPreparer(tmp_path / "b").prepare("f", lecture)
    assert streamed.duration == pytest.approx(from_file.duration, abs=0.1)


def test_streamed_text_and_streamed_silent_video_are_bad_input(tmp_path, ffmpeg):
    with pytest.raises(BadInput, match="is not an audio or video file"):
        AudioPreparer(tmp_path).prepare("t", iter([b"just some text\n" * 100]))
    video = make_media(ffmpeg, tmp_path / "v.mp4", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=1",
                       "-c:v", "libx264", "-preset", "ultrafast", "-movflags", "frag_keyframe+empty_moov")
    with pytest.raises(BadInput, match="has no audio track"):
        AudioPreparer(tmp_path).prepare("v", iter([video.read_bytes()]))


def test_split_cuts_a_chunk_in_two_that_keep_its_place(tmp_path, lecture):
    preparer = AudioPreparer(tmp_path, chunk_seconds=120)
    chunk = preparer.prepare("x", lecture).chunks[1]
    first, second = preparer.split(chunk)
    assert first.offset == chunk.offset and first.keep_from == chunk.keep_from
    assert second.offset == pytest.approx(first.keep_until - 1.0)
    assert second.keep_until == chunk.keep_until
    assert first.size + second.size < chunk.size * 1.2
    assert first.duration + second.duration == pytest.approx(chunk.duration + 1.0, abs=0.2)


def test_output_past_the_jobs_disk_allowance_is_refused_and_removed(tmp_path, lecture):
    preparer = AudioPreparer(tmp_path, max_job_bytes=50_000)
    with pytest.raises(BadInput, match="disk allowance"):
        preparer.prepare("big", lecture)
    assert not list(tmp_path.rglob("audio.*"))


def test_directories_of_dead_processes_are_swept_and_live_ones_kept(tmp_path):
    mine = tmp_path / str(os.getpid())
    dead = tmp_path / "999999999"
    parent = tmp_path / str(os.getppid())
    for d in (mine, dead, parent):
        (d / "job").mkdir(parents=True)
    assert sweep_stale(mine) == 1
    assert not dead.exists() and mine.exists() and parent.exists()
