"""The transcript value every provider returns and every cache backend stores."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable


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


def stitch(parts: Iterable[tuple[float, Transcript]]) -> Transcript:
    """Join chunk transcripts, each given with the offset (seconds) of its chunk in the whole recording.

    Segment times are shifted by the chunk offset so the result reads as one recording. The language is the
    one most chunks agree on; providers are listed in the order they first appear.
    """
    ordered = sorted(parts, key=lambda p: p[0])
    if not ordered:
        raise ValueError("stitch needs at least one part")
    if len(ordered) == 1 and ordered[0][0] == 0.0:
        return ordered[0][1]
    segments: list[Segment] = []
    texts: list[str] = []
    languages: dict[str, int] = {}
    providers: list[str] = []
    duration = 0.0
    for offset, part in ordered:
        segments.extend(replace(s, start=s.start + offset, end=s.end + offset) for s in part.segments)
        if part.text.strip():
            texts.append(part.text.strip())
        if part.language:
            languages[part.language] = languages.get(part.language, 0) + 1
        if part.provider not in providers:
            providers.append(part.provider)
        duration = max(duration, offset + part.duration)
    language = max(languages, key=languages.__getitem__) if languages else None
    return Transcript(" ".join(texts), language, duration, "+".join(providers), tuple(segments))
