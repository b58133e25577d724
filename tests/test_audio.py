"""Audio preparation with real ffmpeg on media the tests generate."""

from __future__ import annotations

import hashlib
from pathlib import Path

import av
import pytest
from conftest import make_media

from transhades.audio.prepare import AudioPreparer, conversion_args, discard, probe, sha256_of
from transhades.errors import BadInput, ProviderUnavailable


@pytest.fixture
def preparer(tmp_path: Path) -> AudioPreparer:
    return AudioPreparer(tmp_path / "work", "opus", 24)


def stream_facts(path: str) -> tuple[int, int, str, float]:
    with av.open(path) as c:
        s = c.streams.audio[0]
        return s.rate, s.channels, s.codec_context.name, c.duration / 1e6


def test_prepared_audio_is_16khz_mono_opus_of_the_same_length(preparer, tone):
    prepared = preparer.prepare("job1", tone)
    rate, channels, codec, duration = stream_facts(prepared.path)
    assert (rate, channels, codec) == (48000, 1, "opus") or (rate, channels, codec) == (16000, 1, "opus")
    assert prepared.duration == pytest.approx(3.0, abs=0.1) and duration == pytest.approx(3.0, abs=0.1)
    assert prepared.content_type == "audio/ogg" and len(prepared.chunks) == 1
    assert prepared.size == Path(prepared.path).stat().st_size < tone.stat().st_size / 5


def test_mp3_codec_gives_16khz_mono_mp3(tmp_path, tone):
    prepared = AudioPreparer(tmp_path / "w", "mp3", 32).prepare("j", tone)
    rate, channels, codec, _ = stream_facts(prepared.path)
    assert (rate, channels) == (16000, 1) and codec.startswith("mp3") and prepared.content_type == "audio/mpeg"


def test_opus_encoder_is_asked_for_16khz(tmp_path, tone):
    args = conversion_args(tone, tmp_path / "x.ogg", "opus", 24)
    assert args[args.index("-ar") + 1] == "16000" and args[args.index("-ac") + 1] == "1"
    assert args[args.index("-map") + 1] == "0:a:0" and "-vn" in args


def test_video_with_audio_yields_its_audio_track(ffmpeg, tmp_path, preparer):
    video = make_media(ffmpeg, tmp_path / "clip.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2",
                       "-f", "lavfi", "-i", "sine=frequency=300:duration=2", "-shortest", "-c:v", "libx264",
                       "-preset", "ultrafast", "-c:a", "aac")
    assert probe(video).has_video
    prepared = preparer.prepare("v", video)
    assert prepared.duration == pytest.approx(2.0, abs=0.15)
    with av.open(prepared.path) as c:
        assert not c.streams.video


def test_video_without_audio_is_bad_input(ffmpeg, tmp_path, preparer):
    video = make_media(ffmpeg, tmp_path / "silent.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=1",
                       "-c:v", "libx264", "-preset", "ultrafast")
    with pytest.raises(BadInput, match="has no audio track"):
        preparer.prepare("v", video)


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"this is a text file, not opus\n" * 20, "is not an audio or video file"),
    (bytes(range(256)) * 64, "is not an audio or video file"),
])
def test_files_that_are_not_media_are_bad_input(tmp_path, preparer, content, message):
    path = tmp_path / "voice.ogg"
    path.write_bytes(content)
    with pytest.raises(BadInput, match=message):
        preparer.prepare("j", path)


def test_truncated_media_is_bad_input_and_leaves_no_output(ffmpeg, tmp_path, preparer):
    full = make_media(ffmpeg, tmp_path / "full.m4a", "-f", "lavfi", "-i", "sine=duration=5", "-c:a", "aac")
    cut = tmp_path / "cut.m4a"
    cut.write_bytes(full.read_bytes()[:600])
    with pytest.raises(BadInput):
        preparer.prepare("cut", cut)
    assert not list((tmp_path / "work").rglob("audio.*"))


def test_missing_file_and_directory_are_bad_input(tmp_path, preparer):
    with pytest.raises(BadInput, match="no such file"):
        preparer.prepare("j", tmp_path / "nope.ogg")
    with pytest.raises(BadInput, match="is a directory"):
        preparer.prepare("j", tmp_path)


@pytest.mark.parametrize("name", ["a b;$(touch pwned)'x\".wav", "-rf.wav", "file:weird.wav", "ünï cødé.wav"])
def test_names_with_spaces_and_shell_characters_are_just_names(tmp_path, tone, preparer, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    odd = tmp_path / name
    odd.write_bytes(tone.read_bytes())
    prepared = preparer.prepare("odd", Path(name))
    assert prepared.duration == pytest.approx(3.0, abs=0.1)
    assert not (tmp_path / "pwned").exists()


def test_media_longer_than_the_limit_is_bad_input(tmp_path, tone):
    with pytest.raises(BadInput, match="the limit is"):
        AudioPreparer(tmp_path / "w", max_duration=2.0).prepare("j", tone)


def test_ffmpeg_that_overruns_its_timeout_is_stopped_and_cleaned_up(ffmpeg, tmp_path):
    long = make_media(ffmpeg, tmp_path / "long.wav", "-f", "lavfi", "-i", "anoisesrc=duration=600:sample_rate=48000")
    preparer = AudioPreparer(tmp_path / "w", timeout=0.05)
    with pytest.raises(ProviderUnavailable, match="longer than"):
        preparer.prepare("slow", long)
    assert not list((tmp_path / "w").rglob("audio.*"))


def test_sha256_matches_the_bytes_and_discard_removes_the_job_directory(tmp_path, tone, preparer):
    assert sha256_of(tone) == hashlib.sha256(tone.read_bytes()).hexdigest()
    prepared = preparer.prepare("../../escape", tone)
    assert Path(prepared.path).resolve().is_relative_to((tmp_path / "work").resolve())
    discard(tmp_path / "work", "../../escape")
    assert not Path(prepared.path).exists()


def test_without_ffmpeg_on_path_the_pip_shipped_binary_is_used(tmp_path, tone, monkeypatch):
    import shutil

    import imageio_ffmpeg

    from transhades.audio import prepare as audio

    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    audio.ffmpeg_binary.cache_clear()
    try:
        assert audio.ffmpeg_binary() == imageio_ffmpeg.get_ffmpeg_exe()
        prepared = AudioPreparer(tmp_path / "w").prepare("pip-only", tone)
        assert prepared.duration == pytest.approx(3.0, abs=0.1)
    finally:
        audio.ffmpeg_binary.cache_clear()


def mean_volume(ffmpeg: str, path: str) -> float:
    import re
    import subprocess

    log = subprocess.run([ffmpeg, "-nostdin", "-hide_banner", "-i", path, "-af", "volumedetect", "-f", "null", "-"],
                         capture_output=True, text=True).stderr
    return float(re.search(r"mean_volume: (-?[\d.]+|-inf) dB", log).group(1))


@pytest.mark.parametrize("default_track", [0, 1, None])
def test_of_several_audio_tracks_the_one_that_carries_sound_is_prepared(ffmpeg, tmp_path, preparer, default_track,
                                                                        caplog):
    dispositions = [] if default_track is None else [f"-disposition:a:{default_track}", "default",
                                                     f"-disposition:a:{1 - default_track}", "0"]
    media = make_media(ffmpeg, tmp_path / "dubbed.mkv", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
                       "-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-t", "4", "-map", "0:a", "-map", "1:a",
                       "-c:a", "libopus", *dispositions)
    assert probe(media).audio_streams == 2
    with caplog.at_level("INFO", logger="transhades.audio.prepare"):
        prepared = preparer.prepare("dub", media)
    assert mean_volume(ffmpeg, prepared.path) > -40, "the silent first track was transcribed"
    assert "2 audio tracks" in caplog.text and "transcribing track #2" in caplog.text


def test_a_default_track_that_carries_sound_wins_over_a_louder_one():
    from transhades.audio.prepare import speech_stream

    assert speech_stream({0: -30.0, 1: -12.0}, default=0) == 0
    assert speech_stream({0: -91.0, 1: -25.0}, default=0) == 1
    assert speech_stream({0: -40.0, 1: -20.0, 2: -35.0}, default=None) == 1
    assert speech_stream({}, default=None) == 0
