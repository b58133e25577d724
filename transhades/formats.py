"""Render a transcript as plain text, SRT, WebVTT or JSON."""

from __future__ import annotations

import json
from typing import Any

from .transcript import Segment, Transcript

FORMATS = ("text", "srt", "vtt", "json")


def _stamp(seconds: float, sep: str) -> str:
    millis = int(round(max(0.0, seconds) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{millis:03d}"


def _cues(transcript: Transcript) -> list[Segment]:
    """Segments to show as cues; a provider that gave no segments yields one cue for the whole text."""
    if transcript.segments:
        return [s for s in transcript.segments if s.text.strip()]
    if transcript.text.strip():
        return [Segment(0.0, transcript.duration, transcript.text)]
    return []


def to_srt(transcript: Transcript) -> str:
    blocks = [
        f"{i}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{s.text.strip()}\n"
        for i, s in enumerate(_cues(transcript), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    blocks = [f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n{s.text.strip()}\n" for s in _cues(transcript)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_json(transcript: Transcript, **extra: Any) -> str:
    return json.dumps({**extra, **transcript.to_dict()}, ensure_ascii=False)


def to_markdown(transcript: Transcript) -> str:
    """A transcript to read: one paragraph per segment, each opened by its time."""
    if not transcript.segments:
        return transcript.text.strip() + "\n"
    return "\n\n".join(f"**[{_stamp(s.start, '.')[:8]}]** {s.text.strip()}" for s in transcript.segments
                         if s.text.strip()) + "\n"


def render(transcript: Transcript, fmt: str, **extra: Any) -> str:
    if fmt in ("text", "txt"):
        return transcript.text.strip()
    if fmt == "md":
        return to_markdown(transcript)
    if fmt == "srt":
        return to_srt(transcript)
    if fmt == "vtt":
        return to_vtt(transcript)
    if fmt == "json":
        return to_json(transcript, **extra)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
