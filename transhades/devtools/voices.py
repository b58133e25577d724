"""Dialogues of real recorded people with known turns: the speaker benchmark's evaluation set.

The voices are professional telephone prompts that Debian ships (8 kHz): asterisk-core-sounds-{en,fr,it,ru}-wav
(Allison, June, Carlo, an IVR voice), asterisk-prompt-it-menardi-wav (Paola Dal Zot), asterisk-prompt-fr-armelle
and asterisk-prompt-es-co (July E. Jiménez). Some of these packages conflict with the core sets, so the prompt
packages are unpacked (``apt-get download`` + ``dpkg -x``) into ``TRANSHADES_VOICES_DIR`` (default
``~/.cache/transhades/voices``) rather than installed; ``.ci/run`` does it.

Every clip is brought to the same band (300-3400 Hz) and loudness, its silences trimmed, so neither channel nor
volume tells the voices apart. A dialogue is a seeded sequence of turns of 3 to 15 s (a turn is clips of one voice
with 0.15 s pauses), with gaps between turns; the reference is where each voice speaks (a turn less its pauses of
0.3 s or more, found on the clean clips), written as RTTM. The same seed gives the same bytes.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16_000
SOUNDS = Path("/usr/share/asterisk/sounds")
UNPACKED = Path(os.environ.get("TRANSHADES_VOICES_DIR", Path.home() / ".cache" / "transhades" / "voices"))
UNPACKED_PACKAGES = ("asterisk-prompt-it-menardi-wav", "asterisk-prompt-fr-armelle", "asterisk-prompt-es-co",
                     "asterisk-core-sounds-ru-wav")


@dataclass(frozen=True)
class Voice:
    name: str
    gender: str  # "f" or "m", as the package names or credits say
    folder: Path
    pattern: str  # file names of its prompts


def voices() -> dict[str, Voice]:
    unpacked = UNPACKED / "usr" / "share" / "asterisk" / "sounds"
    return {v.name: v for v in (
        Voice("allison", "f", SOUNDS / "en_US_f_Allison", "*.wav"),
        Voice("june", "f", SOUNDS / "fr_CA_f_June", "*.wav"),
        Voice("carlo", "m", SOUNDS / "it_IT_m_Carlo", "*.wav"),
        Voice("menardi", "f", unpacked / "it_IT_f_Menardi", "*.wav"),
        Voice("armelle", "f", unpacked / "fr", "*.gsm"),
        Voice("july", "f", unpacked / "es", "*.gsm"),
        Voice("irina", "f", unpacked / "ru_RU_f_IvrvoiceRU", "*.wav"),
    )}


@dataclass(frozen=True)
class DialogueSpec:
    name: str
    voices: tuple[str, ...]
    seconds: float
    gaps: tuple[float, float]  # the silence between turns, drawn between these
    seed: int
    clips: str = "all"  # "even" or "odd": every other clip of each voice, so two dialogues share no recording


SET: tuple[DialogueSpec, ...] = (
    DialogueSpec("mixed-carlo-june", ("carlo", "june"), 75, (0.2, 0.6), 1),
    DialogueSpec("mixed-carlo-menardi", ("carlo", "menardi"), 90, (0.2, 0.6), 2),
    DialogueSpec("same-allison-june", ("allison", "june"), 80, (0.2, 0.6), 3),
    DialogueSpec("same-menardi-armelle", ("menardi", "armelle"), 100, (0.2, 0.6), 4),
    DialogueSpec("same-july-irina", ("july", "irina"), 70, (1.0, 2.0), 5),
    DialogueSpec("three-allison-carlo-menardi", ("allison", "carlo", "menardi"), 110, (0.2, 0.6), 6),
    DialogueSpec("three-june-july-carlo", ("june", "july", "carlo"), 95, (1.0, 2.0), 7),
    DialogueSpec("three-armelle-irina-allison", ("armelle", "irina", "allison"), 117, (0.2, 0.6), 8),
)


def missing() -> str | None:
    """What to install or unpack, as one line; None when every voice is here."""
    absent = [v.name for v in voices().values() if not v.folder.is_dir() or not any(v.folder.glob(v.pattern))]
    if absent:
        return (f"no recordings of {', '.join(absent)}: apt-get install asterisk-core-sounds-en-wav "
                f"asterisk-core-sounds-fr-wav asterisk-core-sounds-it-wav, and unpack "
                f"{' '.join(UNPACKED_PACKAGES)} into {UNPACKED} (apt-get download, dpkg -x; .ci/run does it)")
    return None


def telephone(audio: np.ndarray) -> np.ndarray:
    """300-3400 Hz, the telephone band, whatever the recording had."""
    if not len(audio):
        return audio
    spectrum = np.fft.rfft(audio)
    hz = np.fft.rfftfreq(len(audio), 1 / RATE)
    spectrum[(hz < 300) | (hz > 3400)] = 0
    return np.fft.irfft(spectrum, len(audio)).astype(np.float32)


def _frames_rms(audio: np.ndarray, size: int = 320) -> np.ndarray:
    usable = len(audio) // size * size
    return np.sqrt(np.mean(audio[:usable].reshape(-1, size) ** 2, axis=1) + 1e-12)


def trimmed(audio: np.ndarray, size: int = 320) -> np.ndarray:
    """Without the silence before the first and after the last 20 ms that reach a tenth of the loudest."""
    rms = _frames_rms(audio, size)
    loud = np.nonzero(rms > 0.1 * rms.max())[0] if len(rms) else np.array([], int)
    if not len(loud):
        return audio[:0]
    return audio[loud[0] * size:(loud[-1] + 1) * size]


def levelled(audio: np.ndarray, target_db: float = -24.0) -> np.ndarray:
    """Every clip at one loudness: the RMS of its speech frames (those over a tenth of the loudest) at
    ``target_db`` dBFS."""
    rms = _frames_rms(audio)
    speech = rms[rms > 0.1 * rms.max()] if len(rms) else rms
    level = float(np.sqrt(np.mean(speech ** 2))) if len(speech) else 0.0
    if level <= 0:
        return audio
    return np.clip(audio * (10 ** (target_db / 20) / level), -1.0, 1.0).astype(np.float32)


def clip(path: Path) -> np.ndarray:
    from faster_whisper.audio import decode_audio

    return levelled(telephone(trimmed(np.asarray(decode_audio(str(path), sampling_rate=RATE), np.float32))))


@dataclass(frozen=True)
class Dialogue:
    audio: np.ndarray  # 16 kHz mono
    turns: list[tuple[float, float, int]]  # who holds the floor: (start, end, speaker from 1)
    reference: list[tuple[float, float, int]]  # who speaks when: the turns less their pauses of 0.3 s or more


def speech_spans(audio: np.ndarray, size: int = 320, least_gap: float = 0.3) -> list[tuple[float, float]]:
    """Where a clean clip speaks: 20 ms frames within 35 dB of the loudest (soft consonants and the ends of words
    included; the studio's silence is 60 dB down), pauses shorter than ``least_gap`` bridged. The prompts are
    studio recordings, so their energy says it reliably."""
    rms = _frames_rms(audio, size)
    loud = rms > 10 ** (-35 / 20) * rms.max() if len(rms) else np.zeros(0, bool)
    spans: list[list[float]] = []
    step = size / RATE
    for index in np.nonzero(loud)[0]:
        start, end = index * step, (index + 1) * step
        if spans and start - spans[-1][1] < least_gap:
            spans[-1][1] = end
        else:
            spans.append([start, end])
    return [(a, b) for a, b in spans]


def _clips(spec: DialogueSpec) -> dict[str, list[Path]]:
    """Each voice's recordings, in name order (every other one for ``clips`` even or odd)."""
    table = voices()
    pool = {name: sorted(table[name].folder.glob(table[name].pattern)) for name in spec.voices}
    if spec.clips != "all":
        pool = {name: clips[spec.clips == "odd"::2] for name, clips in pool.items()}
    return pool


def build(spec: DialogueSpec) -> Dialogue:
    """The dialogue, its turns and its reference (speaker from 1, in ``spec.voices`` order)."""
    rng = random.Random(spec.seed)
    pool = _clips(spec)
    for name in pool:
        rng.shuffle(pool[name])
    parts: list[np.ndarray] = []
    turns: list[tuple[float, float, int]] = []
    reference: list[tuple[float, float, int]] = []
    at, previous = 0.0, -1
    while at < spec.seconds:
        who = rng.choice([i for i in range(len(spec.voices)) if i != previous])
        previous = who
        target = rng.uniform(3.0, 15.0)
        turn: list[np.ndarray] = []
        length = 0.0
        while length < target and pool[spec.voices[who]]:
            audio = clip(pool[spec.voices[who]].pop())
            if not RATE // 2 <= len(audio) <= 12 * RATE:  # a beep, or a menu longer than a turn
                continue
            if turn:
                turn.append(np.zeros(int(0.15 * RATE), np.float32))
            turn.append(audio)
            length = sum(len(p) for p in turn) / RATE
            shorter = sum(len(p) for p in turn[:-2]) / RATE
            if length > 15.0 and shorter >= 3.0:  # over the longest turn: leave the last clip out
                turn = turn[:-2]
                break
        if not turn:
            break
        speech = np.concatenate(turn)
        turns.append((round(at, 3), round(at + len(speech) / RATE, 3), who + 1))
        reference += [(round(at + a, 3), round(at + b, 3), who + 1) for a, b in speech_spans(speech)]
        gap: np.ndarray = np.zeros(int(rng.uniform(*spec.gaps) * RATE), np.float32)
        parts += [speech, gap]
        at += (len(speech) + len(gap)) / RATE
    return Dialogue(np.concatenate(parts), turns, reference)


def rttm(name: str, reference: list[tuple[float, float, int]]) -> str:
    """NIST's RTTM: one SPEAKER line per turn."""
    return "".join(f"SPEAKER {name} 1 {start:.3f} {end - start:.3f} <NA> <NA> spk{who} <NA> <NA>\n"
                   for start, end, who in reference)


def write(folder: Path, spec: DialogueSpec) -> tuple[Path, Path]:
    """The dialogue as 16-bit WAV and its reference as RTTM, in ``folder``."""
    import soundfile

    dialogue = build(spec)
    folder.mkdir(parents=True, exist_ok=True)
    wav, ref = folder / f"{spec.name}.wav", folder / f"{spec.name}.rttm"
    soundfile.write(wav, dialogue.audio, RATE, subtype="PCM_16")
    ref.write_text(rttm(spec.name, dialogue.reference))
    return wav, ref
