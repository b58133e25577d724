"""The transcript value every provider returns and every cache backend stores."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from .media import AudioChunk


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str


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
            "segments": [
                {"start": round(s.start, 3), "end": round(s.end, 3), "text": s.text} for s in self.segments
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Transcript":
        return cls(
            text=str(data["text"]),
            language=data.get("language"),
            duration=float(data.get("duration") or 0.0),
            provider=str(data.get("provider") or "unknown"),
            segments=tuple(
                Segment(float(s["start"]), float(s["end"]), str(s["text"])) for s in data.get("segments") or ()
            ),
        )


def stitch(parts: Iterable[tuple["AudioChunk", "Transcript"]]) -> "Transcript":
    """Join chunk transcripts into one, in recording order.

    Segment times are shifted by each chunk's offset; a segment is kept only when its midpoint falls inside
    the span its chunk speaks for (``keep_from``..``keep_until``), which drops the overlap that the neighbour
    already transcribed. A chunk without segments contributes its whole text. The language is the one most
    chunks agree on; providers are listed in the order they first appear.
    """
    ordered = sorted(parts, key=lambda p: p[0].offset)
    if not ordered:
        raise ValueError("stitch needs at least one part")
    if len(ordered) == 1 and ordered[0][0].offset == 0.0:
        return ordered[0][1]
    kept: list[tuple[int, Segment]] = []  # (chunk number, segment), in recording order
    for number, (chunk, part) in enumerate(ordered):
        for s in part.segments:
            shifted = replace(s, start=s.start + chunk.offset, end=s.end + chunk.offset)
            if chunk.keep_from <= (shifted.start + shifted.end) / 2 < chunk.keep_until:
                _append(kept, number, shifted)
    texts = [text for number, (_, part) in enumerate(ordered) for text in _texts(number, part, kept)]
    languages = Counter(part.language for _, part in ordered if part.language)
    providers = dict.fromkeys(part.provider for _, part in ordered)  # in the order they first appear
    duration = max(chunk.offset + part.duration for chunk, part in ordered)
    language = max(languages, key=languages.__getitem__) if languages else None
    return Transcript(" ".join(texts), language, duration, "+".join(providers), tuple(s for _, s in kept))


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
