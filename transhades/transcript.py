"""The transcript value every provider returns and every cache backend stores."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transhades.media import AudioChunk


@dataclass(frozen=True, slots=True)
class Word:
    """One word with its time, where the provider gives it (for subtitle editors)."""

    word: str
    start: float
    end: float
    probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"word": self.word, "start": round(self.start, 3), "end": round(self.end, 3)}
        if self.probability is not None:
            data["probability"] = round(self.probability, 3)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Word:
        probability = data.get("probability")
        return cls(str(data["word"]), float(data["start"]), float(data["end"]),
                   float(probability) if probability is not None else None)


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker: str | None = None  # "1", "2", ... in order of first appearance, where speakers were told apart
    language: str | None = None  # where the parts of one recording were heard in different languages

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"start": round(self.start, 3), "end": round(self.end, 3), "text": self.text}
        if self.speaker is not None:
            data["speaker"] = self.speaker
        if self.language:
            data["language"] = self.language
        if self.words:
            data["words"] = [w.to_dict() for w in self.words]
        return data

    def shifted(self, by: float) -> Segment:
        return Segment(self.start + by, self.end + by, self.text,
                       tuple(Word(w.word, w.start + by, w.end + by, w.probability) for w in self.words), self.speaker,
                       self.language)


def numbered(segments: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """Speakers renamed "1", "2", ... in the order they first speak (a provider's own ids start anywhere); one
    speaker alone is no speaker worth naming."""
    named = list(dict.fromkeys(s.speaker for s in segments if s.speaker is not None))
    if len(named) < 2:
        return tuple(replace(s, speaker=None) for s in segments) if named else segments
    order = {who: str(n) for n, who in enumerate(named, 1)}
    return tuple(replace(s, speaker=order[s.speaker]) if s.speaker is not None else s for s in segments)


def words_within(words: Iterable[Word], start: float, end: float) -> tuple[Word, ...]:
    """The words whose middle falls between ``start`` and ``end`` (a segment's)."""
    return tuple(w for w in words if start <= (w.start + w.end) / 2 < end)


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None
    duration: float
    provider: str
    segments: tuple[Segment, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "duration": round(self.duration, 3),
            "provider": self.provider,
            "segments": [s.to_dict() for s in self.segments],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        return cls(
            text=str(data["text"]),
            language=data.get("language"),
            duration=float(data.get("duration") or 0.0),
            provider=str(data.get("provider") or "unknown"),
            segments=tuple(
                Segment(float(s["start"]), float(s["end"]), str(s["text"]),
                        tuple(Word.from_dict(w) for w in s.get("words") or ()),
                        str(s["speaker"]) if s.get("speaker") is not None else None,
                        str(s["language"]) if s.get("language") else None)
                for s in data.get("segments") or ()
            ),
        )


def stitch(parts: Iterable[tuple[AudioChunk, Transcript]]) -> Transcript:
    """Join chunk transcripts into one, in recording order.

    Segment times are shifted by each chunk's offset; a segment is kept only when its midpoint falls inside
    the span its chunk speaks for (``keep_from``..``keep_until``), which drops the overlap that the neighbour
    already transcribed. A chunk without segments contributes its whole text. The language is the one most
    chunks agree on (where they differ, each segment keeps its own); providers are listed in the order they first
    appear.
    """
    ordered = sorted(parts, key=lambda p: p[0].offset)
    if not ordered:
        raise ValueError("stitch needs at least one part")
    if len(ordered) == 1 and ordered[0][0].offset == 0.0:
        return ordered[0][1]
    languages = Counter(part.language for _, part in ordered if part.language)
    kept = _kept(ordered, len(languages) > 1)
    texts = [text for number, (_, part) in enumerate(ordered) for text in _texts(number, part, kept)]
    providers = dict.fromkeys(part.provider for _, part in ordered)  # in the order they first appear
    duration = max(chunk.offset + part.duration for chunk, part in ordered)
    language = max(languages, key=languages.__getitem__) if languages else None
    return Transcript(" ".join(texts), language, duration, "+".join(providers), tuple(s for _, s in kept))


def _kept(ordered: list[tuple[AudioChunk, Transcript]], languages_differ: bool) -> list[tuple[int, Segment]]:
    """Each chunk's segments that fall in its span, as (chunk number, segment) in recording order; where the
    chunks were heard in different languages, each segment says its chunk's."""
    kept: list[tuple[int, Segment]] = []
    for number, (chunk, part) in enumerate(ordered):
        for s in part.segments:
            shifted = s.shifted(chunk.offset)
            if languages_differ and not shifted.language:
                shifted = replace(shifted, language=part.language)
            if chunk.keep_from <= (shifted.start + shifted.end) / 2 < chunk.keep_until:
                _append(kept, number, shifted)
    return kept


def _texts(number: int, part: Transcript, kept: list[tuple[int, Segment]]) -> list[str]:
    """What chunk ``number`` says: its kept segments, or its whole text when it has no segments."""
    if part.segments:
        return [s.text.strip() for n, s in kept if n == number and s.text.strip()]
    return [part.text.strip()] if part.text.strip() else []


def _append(kept: list[tuple[int, Segment]], number: int, new: Segment) -> None:
    """Add a segment in order. Around a cut, the chunk that ends there may keep a segment it heard cut short
    while the next chunk heard the same speech whole: when two overlap by more than half of the shorter, they
    are the same speech and the longer one stays; a smaller overlap moves the newcomer's start."""
    if kept and new.start < kept[-1][1].end:
        last = kept[-1][1]
        overlap = min(last.end, new.end) - new.start
        if overlap >= 0.5 * min(last.end - last.start, new.end - new.start):
            if new.end - new.start > last.end - last.start:
                kept[-1] = (number, new)
            return
        new = replace(new, start=last.end)
    kept.append((number, new))
