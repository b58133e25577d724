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
    audio, reference = voices.build(spec)
    assert 60 <= len(audio) / voices.RATE <= 130
    lengths = [end - start for start, end, _ in reference]
    assert all(3.0 <= length <= 15.2 for length in lengths), lengths
    assert all(a[2] != b[2] for a, b in zip(reference, reference[1:], strict=False)), "a turn changes the speaker"
    assert {who for *_, who in reference} == {1, 2}
    first = voices.write(tmp_path / "a", spec)
    again = voices.write(tmp_path / "b", spec)
    digest = [hashlib.sha256(path.read_bytes()).hexdigest() for path in (*first, *again)]
    assert digest[0] == digest[2] and digest[1] == digest[3]
    line = first[1].read_text().splitlines()[0].split()
    assert line[:3] == ["SPEAKER", spec.name, "1"] and line[7] == "spk" + str(reference[0][2])
    assert float(line[3]) == reference[0][0] and float(line[4]) == pytest.approx(lengths[0], abs=0.002)


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
