"""Dialogues with known turns, spoken by distinct espeak-ng voices, and the diarization error rate against them:
the speaker benchmark (``transhades bench``) and the tests use the same."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

RATE = 16000
VOICES = (("en+m3", 35, 150), ("en+f4", 75, 170), ("en-gb-scotland+m7", 20, 135), ("en+f2", 60, 185))
LINES = (
    "Good morning. Shall we start the weekly planning meeting now?",
    "Yes, I have the numbers from the sales team ready for everyone.",
    "Before that, can somebody tell me where the projector remote went?",
    "Great. Please share the first slide with the quarterly results.",
    "Revenue grew by twelve percent, mostly from the new subscription plans.",
    "I found the remote, it was under the pile of printed reports.",
    "That is good news. What about the costs of the support team?",
    "Costs stayed flat, because we automated the most common questions.",
    "Then let us plan the next quarter around the subscription growth.",
    "I will prepare a forecast and send it to everyone by Friday afternoon.",
    "Sounds good. I can review the forecast before the board meeting.",
    "Thank you all, that is everything on the agenda for today.",
)


def dialogue(speakers: int, turns: int = 12, gap: float = 0.4) -> tuple[np.ndarray, list[tuple[float, float, int]]]:
    """16 kHz mono speech of ``speakers`` voices taking turns in order, and the reference turns (start, end, who)."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    from faster_whisper.audio import decode_audio

    parts: list[np.ndarray] = []
    reference: list[tuple[float, float, int]] = []
    at = 0.0
    silence: np.ndarray = np.zeros(int(gap * RATE), np.float32)
    with tempfile.TemporaryDirectory(prefix="transhades-dialogue-") as folder:
        for index in range(turns):
            who = index % speakers
            voice, pitch, speed = VOICES[who]
            wav = Path(folder) / f"{index}.wav"
            subprocess.run([espeak, "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(wav),
                            LINES[index % len(LINES)]], check=True, capture_output=True)
            audio = np.asarray(decode_audio(str(wav), sampling_rate=RATE), np.float32)
            reference.append((at, at + len(audio) / RATE, who + 1))
            parts += [audio, silence]
            at += (len(audio) + len(silence)) / RATE
    return np.concatenate(parts), reference


def diarization_error_rate(reference: list[tuple[float, float, int]], hypothesis: list[tuple[float, float, int]],
                           collar: float = 0.25, step: float = 0.01) -> float:
    """(missed + false alarm + confusion) / reference speech, in 10 ms frames, with the best mapping of hypothesis
    speakers to reference speakers and ``collar`` seconds around each reference boundary not scored (NIST's
    convention)."""
    end = max([e for _, e, _ in reference] + [e for _, e, _ in hypothesis] + [0.0])
    frames = int(np.ceil(end / step)) + 1
    ref: np.ndarray = np.zeros(frames, int)
    hyp: np.ndarray = np.zeros(frames, int)
    scored: np.ndarray = np.ones(frames, bool)
    for start, stop, who in reference:
        ref[int(start / step):int(stop / step)] = who
        for edge in (start, stop):
            scored[max(0, int((edge - collar) / step)):int((edge + collar) / step)] = False
    for start, stop, who in hypothesis:
        hyp[int(start / step):int(stop / step)] = who
    ref, hyp = ref[scored], hyp[scored]
    total = int(np.count_nonzero(ref))
    if total == 0:
        return 0.0
    missed = int(np.count_nonzero((ref > 0) & (hyp == 0)))
    false_alarm = int(np.count_nonzero((ref == 0) & (hyp > 0)))
    ours, theirs = sorted(set(hyp[hyp > 0])), sorted(set(ref[ref > 0]))
    both = (ref > 0) & (hyp > 0)
    best = 0
    for chosen in itertools.permutations(theirs + [0] * max(0, len(ours) - len(theirs)), len(ours)):
        mapping = dict(zip(ours, chosen, strict=True))
        best = max(best, sum(int(np.count_nonzero(both & (hyp == o) & (ref == t))) for o, t in mapping.items()))
    confusion = int(np.count_nonzero(both)) - best
    return (missed + false_alarm + confusion) / total
