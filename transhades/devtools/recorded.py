"""Real human recordings with their published transcriptions, as Debian packages ship them, and the word error rate
the benchmark measures on them.

- ``pocketsphinx-testdata``: LibriVox's *Sense and Sensibility* and CMU's card names (16 kHz, 39 s, 92 words).
- ``asterisk-core-sounds-{en,es,fr,it}-wav``: a telephone system's prompts read by professional voices (8 kHz: a
  woman in English, Mexican Spanish and Canadian French, a man in Italian), with the transcriptions of
  ``asterisk-core-sounds-{en,es,fr,it}``. Taken: every third, by name, of the prompts of six words or more whose
  transcription is plain words (no stage notes, symbols, numbers above twelve or lost characters), joined into
  recordings of about 90 s: a voice note's length, long enough for the long path.
- ``joined``: unrelated short clips (LibriVox's reader, CMU's cards, English prompts not taken above) in turn, about
  60 s: every 30 s window crosses a clip boundary without the context before it.

Each recording is its clips joined with half a second of silence between them; its reference is their
transcriptions in the same order.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data")
SOUNDS = Path("/usr/share/asterisk/sounds")
VOICES = {"en": "en_US_f_Allison", "es": "es_MX_f_Allison", "fr": "fr_CA_f_June", "it": "it_IT_m_Carlo"}
LANGUAGES = tuple(VOICES)
PROMPTS = SOUNDS / VOICES["en"]
PROMPT_TEXTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
PACKAGES = "pocketsphinx-testdata " + " ".join(f"asterisk-core-sounds-{lang} asterisk-core-sounds-{lang}-wav"
                                              for lang in LANGUAGES)
RATE = 16_000
GAP = 0.5  # seconds of silence between clips
RECORDING_SECONDS = 90.0
JOINED_SECONDS = 60.0


def texts_of(language: str) -> Path:
    return Path(f"/usr/share/doc/asterisk-core-sounds-{language}/core-sounds-{language}.txt.gz")


@dataclass(frozen=True)
class Recording:
    path: Path  # the clips joined: over 30 s, the long path
    clips: tuple[Path, ...]
    reference: str


def missing() -> str | None:
    """Which packages are not installed, as an apt-get line; None when all are."""
    if not (LIBRIVOX / "librivox").is_dir() or any(
            not (SOUNDS / VOICES[lang]).is_dir() or not texts_of(lang).exists() for lang in LANGUAGES):
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


def _librivox_references(root: Path) -> dict[str, str]:
    references: dict[str, str] = {}
    for listing in (root / "librivox" / "transcription", root / "cards" / "cards.transcription"):
        for line in listing.read_text().splitlines():
            found = re.match(r"<s>(.*)</s>\s*\((.*)\)", line.strip())
            if found:
                references[found.group(2).strip()] = found.group(1).strip()
    return references


def librivox(tmp: Path, root: Path = LIBRIVOX) -> Recording:
    """LibriVox's and CMU's clips of ``pocketsphinx-testdata``, as one recording."""
    references = _librivox_references(root)
    clips = sorted((root / "librivox").glob("*.wav")) + sorted((root / "cards").glob("*.wav"))
    return Recording(_join(tmp / "librivox.wav", clips), tuple(clips),
                     " ".join(references[clip.stem] for clip in clips))


def _plain(text: str) -> bool:
    """Words only: no stage notes or symbols, no number above twelve, no character lost in the listing (``?``
    standing alone for a letter)."""
    return (not re.search(r"[^\w\s.,'?!:;-]", text) and not re.search(r"\d\d", text)
            and not re.search(r"(^|\s)\?", text) and len(text.split()) >= 6)


def _listing(language: str) -> list[tuple[Path, str]]:
    """Every prompt of ``language`` with a recording and a plain transcription, sorted by name."""
    root = SOUNDS / VOICES[language]
    found_all = []
    with gzip.open(texts_of(language), "rt", encoding="utf-8") as lines:
        for line in lines:
            found = re.match(r"^([\w/-]+):\s*(.*)$", line.strip())
            if found and (root / f"{found.group(1)}.wav").exists() and _plain(found.group(2)):
                found_all.append((root / f"{found.group(1)}.wav", found.group(2)))
    return sorted(set(found_all))


def prompt_texts(language: str = "en") -> list[tuple[Path, str]]:
    """The prompts taken (see the module's note), sorted by name, with their transcriptions."""
    return _listing(language)[::3]


def prompts(tmp: Path, language: str = "en", seconds: float = RECORDING_SECONDS) -> list[Recording]:
    """The prompts taken, joined into recordings of about ``seconds`` each."""
    import soundfile

    groups: list[list[tuple[Path, str]]] = [[]]
    length = 0.0
    for clip, text in prompt_texts(language):
        if length >= seconds:
            groups.append([])
            length = 0.0
        groups[-1].append((clip, text))
        length += soundfile.info(clip).duration + GAP
    if length < seconds / 2 and len(groups) > 1:  # what is left over joins the one before: each is a long one
        leftover = groups.pop()
        groups[-1] += leftover
    return [Recording(_join(tmp / f"prompts-{language}-{n}.wav", [clip for clip, _ in group]),
                      tuple(clip for clip, _ in group), " ".join(text for _, text in group))
            for n, group in enumerate(groups, 1)]


def joined(tmp: Path, seconds: float = JOINED_SECONDS) -> Recording:
    """Unrelated short clips in turn: LibriVox's reader, CMU's cards, English prompts that ``prompts`` does not
    take; about ``seconds`` long."""
    import soundfile

    book = librivox(tmp)
    sources: list[list[tuple[Path, str]]] = [
        [(clip, text) for clip, text in _pairs(book) if "librivox" in str(clip)],
        [(clip, text) for clip, text in _pairs(book) if "cards" in str(clip)],
        _listing("en")[1::3],
    ]
    taken: list[tuple[Path, str]] = []
    length, turn = 0.0, 0
    while length < seconds and any(sources):
        source = sources[turn % len(sources)]
        turn += 1
        if source:
            clip, text = source.pop(0)
            taken.append((clip, text))
            length += soundfile.info(clip).duration + GAP
    return Recording(_join(tmp / "joined.wav", [clip for clip, _ in taken]), tuple(clip for clip, _ in taken),
                     " ".join(text for _, text in taken))


def _pairs(recording: Recording) -> list[tuple[Path, str]]:
    """A recording's clips with their own transcriptions (from the listings the reference was made of)."""
    references = _librivox_references(LIBRIVOX)
    return [(clip, references[clip.stem]) for clip in recording.clips]


_NUMBERS = {
    "en": "zero one two three four five six seven eight nine ten eleven twelve",
    "es": "cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce",
    "fr": "zero un deux trois quatre cinq six sept huit neuf dix onze douze",
    "it": "zero uno due tre quattro cinque sei sette otto nove dieci undici dodici",
}
_SPOKEN = {"mr": "mister", "mrs": "missus", "dr": "doctor"}


def normalized(text: str, language: str = "en") -> list[str]:
    """The same on both sides: lower case, no accents (listings often leave them out), no punctuation (a hyphen
    splits, an apostrophe too outside English), numbers and titles as words."""
    text = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    keep = r"[^\w\s']" if language == "en" else r"[^\w\s]"
    numbers = dict(enumerate(_NUMBERS.get(language, _NUMBERS["en"]).split()))
    words = re.sub(keep, " ", text).split()
    return [numbers.get(int(w), w) if w.isdigit() and int(w) in numbers else _SPOKEN.get(w, w) for w in words]


def word_errors(reference: str, hypothesis: str, language: str = "en") -> tuple[int, int]:
    """Substitutions, deletions and insertions, and the reference's words, after ``normalized``."""
    ref, hyp = normalized(reference, language), normalized(hypothesis, language)
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        previous, row = row, [i] + [0] * len(hyp)
        for j, heard in enumerate(hyp, 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (word != heard))
    return row[-1], len(ref)


def word_error_rate(reference: str, hypothesis: str) -> float:
    errors, words = word_errors(reference, hypothesis)
    return errors / max(1, words)
