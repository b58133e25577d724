"""The real-voice dialogues the speaker benchmark is judged on: real recorded people, known turns, nothing but the
voice to tell them apart, the same bytes from the same seed."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from transhades.devtools import voices


@pytest.fixture(scope="module", autouse=True)
def _voices_here():
    if voices.missing():
        if os.environ.get("CI"):
            pytest.fail(f"{voices.missing()} (.ci/run unpacks them)")
        pytest.skip(voices.missing())


def test_the_set_has_mixed_and_same_gender_pairs_and_three_speakers():
    genders = {spec.name: {voices.voices()[v].gender for v in spec.voices} for spec in voices.SET}
    pairs = [spec for spec in voices.SET if len(spec.voices) == 2]
    assert any(genders[s.name] == {"f", "m"} for s in pairs) and any(len(genders[s.name]) == 1 for s in pairs)
    assert sum(len(spec.voices) == 3 for spec in voices.SET) >= 2
    assert {spec.gaps for spec in voices.SET} >= {(0.2, 0.6), (1.0, 2.0)}, "short and long gaps"


def test_a_dialogue_has_turns_of_3_to_15_seconds_by_alternating_voices_and_is_byte_reproducible(tmp_path):
    spec = voices.SET[0]
    dialogue = voices.build(spec)
    assert 60 <= len(dialogue.audio) / voices.RATE <= 130
    lengths = [end - start for start, end, _ in dialogue.turns]
    assert all(3.0 <= length <= 15.2 for length in lengths), lengths
    assert all(a[2] != b[2] for a, b in zip(dialogue.turns, dialogue.turns[1:], strict=False)), "turns alternate"
    assert {who for *_, who in dialogue.turns} == {1, 2}
    inside = [any(s <= r_start and r_end <= e and w == who for s, e, w in dialogue.turns)
              for r_start, r_end, who in dialogue.reference]
    assert all(inside) and len(dialogue.reference) >= len(dialogue.turns), "the reference is the turns' speech"
    speech = sum(e - s for s, e, _ in dialogue.reference)
    assert 0.7 * sum(lengths) < speech < sum(lengths), "pauses of 0.3 s and more are not speech"
    first = voices.write(tmp_path / "a", spec)
    again = voices.write(tmp_path / "b", spec)
    digest = [hashlib.sha256(path.read_bytes()).hexdigest() for path in (*first, *again)]
    assert digest[0] == digest[2] and digest[1] == digest[3]
    line = first[1].read_text().splitlines()[0].split()
    start, end, who = dialogue.reference[0]
    assert line[:3] == ["SPEAKER", spec.name, "1"] and line[7] == f"spk{who}"
    assert float(line[3]) == start and float(line[4]) == pytest.approx(end - start, abs=0.002)


def test_a_pause_inside_a_clip_is_not_speech_and_a_short_one_is():
    tone = np.sin(np.arange(voices.RATE) / voices.RATE * 2 * np.pi * 440).astype(np.float32)
    silence = np.zeros(voices.RATE // 2, np.float32)
    spans = voices.speech_spans(np.concatenate([tone, silence, tone, silence[:voices.RATE // 10], tone]))
    assert len(spans) == 2 and spans[0] == pytest.approx((0.0, 1.0), abs=0.02)
    assert spans[1] == pytest.approx((1.5, 3.6), abs=0.02)


def test_every_clip_is_telephone_band_at_one_loudness():
    spec = voices.SET[2]
    loudness = []
    for name in spec.voices:
        voice = voices.voices()[name]
        path = sorted(voice.folder.glob(voice.pattern))[40]
        audio = voices.clip(path)
        spectrum = np.abs(np.fft.rfft(audio)) ** 2
        hz = np.fft.rfftfreq(len(audio), 1 / voices.RATE)
        assert spectrum[(hz < 280) | (hz > 3500)].sum() <= 1e-6 * spectrum.sum(), name
        rms = voices._frames_rms(audio)
        speech = rms[rms > 0.1 * rms.max()]
        loudness.append(20 * np.log10(np.sqrt(np.mean(speech ** 2))))
    assert max(loudness) - min(loudness) < 1.0, loudness


def test_the_offline_diarizer_tells_real_voices_apart_and_keeps_one_voice_one():
    """Two of the set's dialogues (mixed and same gender) and one voice reading alone."""
    from transhades.devtools.dialogue import diarization_error_rate
    from transhades.speakers.local import LocalDiarizer

    diarizer = LocalDiarizer()
    for spec in (voices.SET[0], voices.SET[2]):
        dialogue = voices.build(spec)
        found = [(t.start, t.end, t.speaker) for t in diarizer.turns(dialogue.audio)]
        assert len({who for *_, who in found}) == 2, spec.name
        assert diarization_error_rate(dialogue.reference, found, collar=0.25) <= 0.12, spec.name
    voice = voices.voices()["june"]
    clips = [voices.clip(path) for path in sorted(voice.folder.glob(voice.pattern))[:40]]
    alone = np.concatenate([np.concatenate([c, np.zeros(4000, np.float32)]) for c in clips if len(c) > 8000])
    assert {t.speaker for t in diarizer.turns(alone[:80 * voices.RATE])} == {1}
