"""Real human recordings with their published transcriptions, as Debian packages ship them, and the word error rate
the benchmark measures on them.

- ``pocketsphinx-testdata``: LibriVox's *Sense and Sensibility* and CMU's card names (16 kHz, 39 s, 92 words).
- ``asterisk-core-sounds-en-wav``: a telephone system's prompts read by a professional voice (8 kHz), with the
  transcriptions of ``asterisk-core-sounds-en``. Taken: every third, by name, of the prompts of six words or more
  whose transcription is plain words (no stage notes, symbols or numbers above twelve), joined into recordings of
  about 90 s: a voice note's length, long enough for the long path.

Each recording is its clips joined with half a second of silence between them; its reference is their
transcriptions in the same order.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data")
PROMPTS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
PROMPT_TEXTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
PACKAGES = "pocketsphinx-testdata asterisk-core-sounds-en asterisk-core-sounds-en-wav"
RATE = 16_000
GAP = 0.5  # seconds of silence between clips
RECORDING_SECONDS = 90.0


@dataclass(frozen=True)
class Recording:
    path: Path  # the clips joined: over 30 s, the long path
    clips: tuple[Path, ...]
    reference: str


def missing() -> str | None:
    """Which package is not installed, as an apt-get line; None when all are."""
    if not (LIBRIVOX / "librivox").is_dir() or not PROMPTS.is_dir() or not PROMPT_TEXTS.exists():
        return f"apt-get install {PACKAGES}"
    return None


def _join(out: Path, clips: list[Path]) -> Path:
    import numpy
    import soundfile
    from faster_whisper import decode_audio

    gap: Any = numpy.zeros(int(GAP * RATE), numpy.float32)
    soundfile.write(out, numpy.concatenate([part for clip in clips for part in (decode_audio(str(clip)), gap)]),
                    RATE, subtype="PCM_16")
    return out


def librivox(tmp: Path, root: Path = LIBRIVOX) -> Recording:
    """LibriVox's and CMU's clips of ``pocketsphinx-testdata``, as one recording."""
    references: dict[str, str] = {}
    for listing in (root / "librivox" / "transcription", root / "cards" / "cards.transcription"):
        for line in listing.read_text().splitlines():
            found = re.match(r"<s>(.*)</s>\s*\((.*)\)", line.strip())
            if found:
                references[found.group(2).strip()] = found.group(1).strip()
    clips = sorted((root / "librivox").glob("*.wav")) + sorted((root / "cards").glob("*.wav"))
    return Recording(_join(tmp / "librivox.wav", clips), tuple(clips),
                     " ".join(references[clip.stem] for clip in clips))


def prompt_texts(listing: Path = PROMPT_TEXTS, root: Path = PROMPTS) -> list[tuple[Path, str]]:
    """The prompts taken (see the module's note), sorted by name, with their transcriptions."""
    taken = []
    with gzip.open(listing, "rt", encoding="utf-8") as lines:
        for line in lines:
            found = re.match(r"^([\w/-]+):\s*(.*)$", line.strip())
            if not found or not (root / f"{found.group(1)}.wav").exists():
                continue
            text = found.group(2)
            plain = not re.search(r"[^\w\s.,'?!:;-]", text) and not re.search(r"\d\d", text)
            if plain and len(text.split()) >= 6:
                taken.append((root / f"{found.group(1)}.wav", text))
    return sorted(taken)[::3]


def prompts(tmp: Path, seconds: float = RECORDING_SECONDS) -> list[Recording]:
    """The prompts taken, joined into recordings of about ``seconds`` each."""
    import soundfile

    groups: list[list[tuple[Path, str]]] = [[]]
    length = 0.0
    for clip, text in prompt_texts():
        if length >= seconds:
            groups.append([])
            length = 0.0
        groups[-1].append((clip, text))
        length += soundfile.info(clip).duration + GAP
    if length < seconds / 2 and len(groups) > 1:  # what is left over joins the one before: each is a long one
        leftover = groups.pop()
        groups[-1] += leftover
    return [Recording(_join(tmp / f"prompts-{n}.wav", [clip for clip, _ in group]),
                      tuple(clip for clip, _ in group), " ".join(text for _, text in group))
            for n, group in enumerate(groups, 1)]


_NUMBERS = dict(enumerate("zero one two three four five six seven eight nine ten eleven twelve".split()))
_SPOKEN = {"mr": "mister", "mrs": "missus", "dr": "doctor"}


def normalized(text: str) -> list[str]:
    """The same on both sides: lower case, no punctuation (a hyphen splits), numbers and titles as words."""
    words = re.sub(r"[^\w\s']", " ", text.lower()).split()
    return [_NUMBERS.get(int(w), w) if w.isdigit() and int(w) in _NUMBERS else _SPOKEN.get(w, w) for w in words]


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """Substitutions, deletions and insertions, and the reference's words, after ``normalized``."""
    ref, hyp = normalized(reference), normalized(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row = row, [i] + [0] * len(hyp)
        for j, heard in enumerate(hyp, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (word != heard))
    return row[-1], len(ref)


def word_error_rate(reference: str, hypothesis: str) -> float:
    errors, words = word_errors(reference, hypothesis)
    return errors / max(1, words)
