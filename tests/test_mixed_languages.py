"""Notes that mix Indonesian and English: with several `languages` configured, each part of a recording is decoded
in its own language (transhades/providers/mixed.py), and the JSON segments say which.

The slow tests speak real Indonesian and English turns (espeak-ng) to the bundled multilingual model, which heard
such a note as English from start to end before."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import pytest
from conftest import run_cli
from test_languages import ENGLISH, INDONESIAN, speak

from transhades.media import AudioChunk
from transhades.providers.mixed import Region, Window, decodings, languages_of, packed, settled, uncovered
from transhades.transcript import Segment, Transcript, stitch

HEARD_AS_THAI = {"th": 0.92, "en": 0.04, "ms": 0.01, "id": 0.002}  # the base model on read-out Indonesian
HEARD_AS_LATIN = {"la": 0.72, "en": 0.068, "id": 0.008}
CLEAR_ENGLISH = {"en": 0.93, "la": 0.02, "id": 0.001}


def test_a_region_heard_as_an_allowed_language_or_its_relative_is_in_it():
    assert languages_of([CLEAR_ENGLISH, {"ms": 0.5, "en": 0.3}, {"id": 0.4, "en": 0.39}], ("id", "en"), None) == \
        ["en", "id", "id"]


def test_a_region_heard_as_no_allowed_language_is_not_english_which_whisper_would_have_named():
    assert languages_of([HEARD_AS_THAI, HEARD_AS_LATIN], ("id", "en"), None) == ["id", "id"]
    assert languages_of([HEARD_AS_THAI], ("id", "ms", "en"), None) == ["ms"], "the likeliest of the others"
    assert languages_of([HEARD_AS_THAI], ("en",), None) == ["en"], "with English alone there is no other"
    assert languages_of([{"th": 0.9, "fr": 0.05, "de": 0.04}], ("de", "fr"), "de") == ["de"], "the hint counts double"
    leaning = {"en": 0.43, "th": 0.16, "la": 0.09, "ms": 0.04}  # Indonesian beside English in one window
    assert languages_of([leaning, CLEAR_ENGLISH], ("id", "en"), None) == ["id", "en"], "English only when sure"
    assert languages_of([leaning], ("en", "fr"), None) == ["fr"] and languages_of([leaning], ("en",), None) == ["en"]


def test_short_regions_take_the_language_across_the_shorter_pause():
    regions = [Region(0.0, 6.0), Region(6.2, 7.0), Region(8.0, 14.0), Region(14.2, 15.0), Region(15.1, 16.0)]
    assert [r.language for r in settled(regions, ["id", "en", "en", "id", "id"], "id")] == \
        ["id", "id", "en", "en", "en"]
    assert [r.language for r in settled([Region(0.0, 1.0), Region(1.2, 9.0)], ["en", "id"], "en")] == ["id", "id"]
    assert [r.language for r in settled([Region(0.0, 1.0)], ["en"], "id")] == ["id"], "alone: the window's"


def test_speech_is_packed_in_windows_of_at_most_30_seconds():
    regions = [Region(0.0, 12.0), Region(13.0, 25.0), Region(26.0, 31.0), Region(40.0, 45.0)]
    windows = packed(regions)
    assert [(w.start, w.end) for w in windows] == [(0.0, 25.0), (26.0, 45.0)]
    assert all(w.end - w.start <= 30.0 for w in windows)


def test_a_window_in_one_language_is_decoded_as_it_is_and_a_mixed_one_in_pieces():
    one = Window(0.0, 24.0, (Region(0.0, 10.0, "id"), Region(11.0, 24.0, "id")))
    mixed = Window(25.0, 50.0, (Region(25.0, 33.0, "en"), Region(34.0, 41.0, "id"), Region(42.0, 50.0, "id")))
    plan = decodings([one, mixed])
    assert plan["id"] == [one, Window(34.0, 50.0, mixed.regions[1:])], "the same window: its encoding is reused"
    assert plan["en"] == [Window(25.0, 33.0, mixed.regions[:1])]


def test_a_part_the_decoding_lost_is_found_and_decoded_again_with_its_neighbours():
    window = Window(0.0, 30.0, (Region(0.0, 10.0, "en"), Region(11.0, 20.0, "id"), Region(21.0, 30.0, "id")))
    heard = [(0.0, 10.0, "en"), (11.0, 13.0, "id")]  # the Indonesian stopped two seconds in
    assert uncovered([window], heard) == {"id": [Window(11.0, 30.0, window.regions[1:])]}
    assert uncovered([window], heard + [(13.0, 20.0, "id"), (21.0, 26.0, "id")]) == {}
    assert uncovered([window], [(0.0, 30.0, "id")]) == {"en": [Window(0.0, 10.0, window.regions[:1])]}, \
        "covered in the wrong language is not covered"


def test_segments_carry_their_language_through_json_and_stitching():
    mixed = Transcript("Selamat pagi. Good morning.", "id", 4.0, "local",
                       (Segment(0.0, 2.0, "Selamat pagi.", language="id"),
                        Segment(2.0, 4.0, "Good morning.", language="en")))
    data = mixed.to_dict()
    assert [s["language"] for s in data["segments"]] == ["id", "en"]
    assert Transcript.from_dict(json.loads(json.dumps(data))) == mixed
    assert "language" not in Transcript("hi", "en", 1.0, "x", (Segment(0.0, 1.0, "hi"),)).to_dict()["segments"][0]
    # chunks a remote provider heard in different languages: each segment keeps its chunk's
    first = (AudioChunk(0, "a", 0.0, 10.0, 1, "audio/ogg", 0.0, 10.0),
             Transcript("Halo semua.", "id", 10.0, "groq", (Segment(0.0, 9.0, "Halo semua."),)))
    second = (AudioChunk(1, "b", 10.0, 10.0, 1, "audio/ogg", 10.0, 20.0),
              Transcript("Hello all.", "en", 10.0, "groq", (Segment(0.0, 9.0, "Hello all."),)))
    assert [s.language for s in stitch([first, second]).segments] == ["id", "en"]
    same = (second[0], Transcript("Halo lagi.", "id", 10.0, "groq", (Segment(0.0, 9.0, "Halo lagi."),)))
    assert [s.language for s in stitch([first, same]).segments] == [None, None], "one language: nothing to say"


# ------------------------------------------------------------------------------------------ real speech

def mixed_note(tmp_path: Path, ffmpeg: str, indonesian: str = INDONESIAN, english: str = ENGLISH) -> Path:
    """An Indonesian turn, a breath (0.8 s), then an English one."""
    turns = [speak(tmp_path, "id", indonesian), speak(tmp_path, "en", english)]
    gap = tmp_path / "gap.wav"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "0.8",
                    str(gap)], check=True)
    listing = tmp_path / "list.txt"
    listing.write_text(f"file '{turns[0]}'\nfile '{gap}'\nfile '{turns[1]}'\n")
    note = tmp_path / "mixed.wav"
    subprocess.run([ffmpeg, "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-ar", "16000", "-ac", "1", str(note)], check=True)
    return note


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


def transcribe(tmp_path: Path, models: Path, note: Path, extra: str = "", *args: str) -> dict:
    config = tmp_path / "config.yaml"
    config.write_text(f"providers: [{{name: local, kind: local{extra}}}]\ncache: {{backend: memory}}\n"
                      f"data_dir: \"{models}\"\nlanguages: [id, en]\n")
    done = run_cli("transcribe", "--format", "json", "--config", str(config), *args, str(note), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_a_note_mixing_indonesian_and_english_keeps_each_part_in_its_language(tmp_path, models, ffmpeg):
    note = mixed_note(tmp_path, ffmpeg)
    result = transcribe(tmp_path, models, note)
    by_language = {code: " ".join(s["text"] for s in result["segments"] if s.get("language") == code).lower()
                   for code in ("id", "en")}
    assert "selamat pagi" in by_language["id"] and "depan" in by_language["id"], result["segments"]
    assert "good morning" in by_language["en"] and "marketing team" in by_language["en"], result["segments"]
    assert all(s.get("language") in ("id", "en") for s in result["segments"])
    # the Indonesian comes first, the English after it
    assert max(s["end"] for s in result["segments"] if s["language"] == "id") <= \
        min(s["start"] for s in result["segments"] if s["language"] == "en") + 1.0
    forced = transcribe(tmp_path, models, note, "", "--language", "id")
    assert forced["language"] == "id" and not any("language" in s for s in forced["segments"]), \
        "a language the user chose is the whole recording's"
    before = transcribe(tmp_path, models, note, ", language_per_part: false")
    assert not any("language" in s for s in before["segments"]), "one language for the whole, as before"
    assert "marketing team" not in before["text"].lower() or "selamat pagi" not in before["text"].lower()


def counted_encodings(local) -> list[int]:
    """The rows of every encoding the local model makes from now on (one per window)."""
    encoded: list[int] = []
    real = local.model.model

    class Counting:
        def __getattr__(self, name):
            return getattr(real, name)

        def encode(self, features, *args, **kwargs):
            encoded.append(features.shape[0])
            return real.encode(features, *args, **kwargs)

    local.model.model = Counting()
    return encoded


@pytest.mark.slow
def test_a_one_language_note_is_encoded_once_per_window(tmp_path, models, ffmpeg):
    """Told apart part by part, a note in one language costs no more encoding than before: the language pass's
    encodings are the decoding's (and there is no separate detection)."""
    from transhades.providers.local import LocalWhisper

    english = speak(tmp_path, "en", f"{ENGLISH} {ENGLISH} {ENGLISH}")
    local = LocalWhisper("local", "base", models / "models")
    encoded = counted_encodings(local)
    with wave.open(str(english)) as wav:
        duration = wav.getnframes() / wav.getframerate()
    assert duration > 30, "long enough for the batched path"
    chunk = AudioChunk(0, str(english), 0.0, duration, english.stat().st_size, "audio/wav")
    result = local.transcribe(chunk, None, languages=("id", "en"))
    assert result.language == "en" and "marketing team" in result.text.lower()
    assert {s.language for s in result.segments} == {"en"}
    per_part, encoded[:] = sum(encoded), []
    local.per_part = False
    assert "marketing team" in local.transcribe(chunk, None, languages=("id", "en")).text.lower()
    assert per_part < sum(encoded), f"each window once, no detection apart: {per_part} rows, before {sum(encoded)}"


@pytest.mark.slow
def test_the_first_piece_of_a_mixed_window_is_heard_from_the_windows_own_encoding(tmp_path, models, ffmpeg):
    from faster_whisper import decode_audio

    from transhades.providers.local import LocalWhisper
    from transhades.providers.mixed import Parts

    short = mixed_note(tmp_path, ffmpeg, ". ".join(INDONESIAN.split(". ")[:2]), ". ".join(ENGLISH.split(". ")[:2]))
    local = LocalWhisper("local", "base", models / "models")
    audio = decode_audio(str(short))
    parts = Parts(local.model, audio, ("id", "en"), None)
    parts.judge()
    mixed = [w for w in parts.judged if len({r.language for r in w.regions}) > 1]
    assert [[r.language for r in w.regions] for w in mixed] == [["id", "en"]], \
        "the Indonesian leaned English beside the English (0.43): encoded alone, it is Indonesian"
    plan = parts.decodings()
    first = next(w for pieces in plan.values() for w in pieces if w.start == mixed[0].start)
    assert first.end < mixed[0].end, "cut where the language changes"
    encoded = counted_encodings(local)
    parts.encodings.output(parts.encodings.features(audio, first))
    assert encoded == [], "no encoding for the first piece (the window's, or its own made when it was judged)"
    second = next(w for pieces in plan.values() for w in pieces if w.start > first.start and w.end <= mixed[0].end)
    parts.encodings.output(parts.encodings.features(audio, second))
    assert encoded == [1], "the other pieces are encoded"


@pytest.mark.slow
def test_a_head_piece_is_the_windows_encoding_then_silence(tmp_path, models, ffmpeg):
    import numpy
    from faster_whisper import decode_audio

    from transhades.providers.local import LocalWhisper
    from transhades.providers.mixed import Encodings

    local = LocalWhisper("local", "base", models / "models")
    audio = decode_audio(str(speak(tmp_path, "en", ENGLISH)))
    encodings = Encodings(local.model)
    window, piece = Window(0.0, 12.0, ()), Window(0.0, 5.0, ())
    whole = encodings.output(encodings.features(audio, window))
    encodings.head(encodings.features(audio, piece), encodings.features(audio, window), 5.0)
    heard = encodings.output(encodings.features(audio, piece))
    assert numpy.array_equal(heard[:250], whole[:250]), "the first five seconds: the window's own frames"
    assert numpy.array_equal(heard[250:], encodings.silence()[250:]), "then silence's"
    assert not numpy.array_equal(heard[250:], whole[250:])


@pytest.mark.slow
def test_recorded_human_speech_switching_spanish_and_english_keeps_each_turn_in_its_language(tmp_path, models):
    """One voice actress reading Asterisk's prompts in Spanish and in English (Debian's recordings), four turns in
    turn, with `languages: [es, en]`: every segment in its turn's language, and fewer word errors than one language
    for the whole (0.17 against 0.62 on six turns when measured)."""
    import os

    import numpy
    import soundfile
    from faster_whisper import decode_audio

    from transhades.devtools import recorded
    from transhades.devtools.recorded import prompt_texts, word_errors
    from transhades.providers.local import LocalWhisper

    if recorded.missing():
        if os.environ.get("CI"):
            pytest.fail(f"no recorded speech in CI: {recorded.missing()} (.ci/run installs it)")
        pytest.skip(f"no recorded speech: {recorded.missing()} (.ci/run installs it)")
    lists = {"es": prompt_texts("es")[40:], "en": prompt_texts("en")[40:]}
    audio, turns, at = [], [], 0.0
    for language in ("es", "en", "es", "en"):
        start, said = at, []
        while at - start < 12.0:
            clip, text = lists[language].pop(0)
            samples = decode_audio(str(clip))
            audio += [samples, numpy.zeros(8000, numpy.float32)]
            at += len(samples) / 16000 + 0.5
            said.append(text)
        turns.append((start, at, language, " ".join(said)))
    note = tmp_path / "switching.wav"
    soundfile.write(note, numpy.concatenate(audio), 16000, subtype="PCM_16")
    local = LocalWhisper("local", "base", models / "models")
    chunk = AudioChunk(0, str(note), 0.0, at, note.stat().st_size, "audio/wav")

    def errors(transcript: Transcript) -> tuple[int, int]:
        counts = [word_errors(text, " ".join(s.text for s in transcript.segments
                                             if start - 0.3 <= (s.start + s.end) / 2 <= end + 0.3), language)
                  for start, end, language, text in turns]
        return sum(e for e, _ in counts), sum(w for _, w in counts)

    heard = local.transcribe(chunk, None, languages=("es", "en"))
    for start, end, language, _ in turns:
        inside = [s for s in heard.segments if start - 0.3 <= (s.start + s.end) / 2 <= end + 0.3]
        assert inside and all(s.language == language for s in inside), (language, [(s.language, s.text)
                                                                                   for s in inside])
    local.per_part = False
    before = local.transcribe(chunk, None, languages=("es", "en"))
    (wrong, words), (wrong_before, _) = errors(heard), errors(before)
    assert wrong < wrong_before, f"{wrong} of {words} words wrong part by part, {wrong_before} in one language"
