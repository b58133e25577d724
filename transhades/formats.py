"""Render a transcript as plain text, SRT, WebVTT or JSON; cut a long text into pieces at sentence ends."""

from __future__ import annotations

import json
import re
from typing import Any

from transhades.transcript import Segment, Transcript

FORMATS = ("text", "srt", "vtt", "json")
SPEAKER = "Speaker"  # the English label; the bot passes its user's language's


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


def to_srt(transcript: Transcript, words: bool = False, label: str = SPEAKER) -> str:
    """SubRip: a cue per segment, opened by its speaker where speakers were told apart; with ``words``, a cue per
    word where the provider timed them (SRT has no timing inside a cue)."""
    cues = _cues(transcript)
    if words:
        cues = [Segment(w.start, w.end, w.word, speaker=s.speaker) for s in cues for w in s.words] \
            if any(s.words for s in cues) else cues
    blocks = [
        f"{i}\n{_stamp(s.start, ',')} --> {_stamp(s.end, ',')}\n{_who(s, label)}{s.text.strip()}\n"
        for i, s in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def to_vtt(transcript: Transcript, label: str = SPEAKER) -> str:
    """WebVTT: a cue per segment, in a voice tag (``<v Speaker 1>``) where speakers were told apart; where the
    words are timed, each word after the first carries its time inline (``<00:00:01.200>word``), which players
    show as the words are spoken."""
    blocks = [f"{_stamp(s.start, '.')} --> {_stamp(s.end, '.')}\n"
              f"{f'<v {speaker_name(s.speaker, label)}>' if s.speaker else ''}{_timed(s)}\n" for s in _cues(transcript)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def speaker_name(speaker: str, label: str = SPEAKER) -> str:
    """"Speaker 2" for a number, the name itself for a speaker the user named ("Budi")."""
    return f"{label} {speaker}" if speaker.isdigit() else speaker


def _who(segment: Segment, label: str) -> str:
    return f"{speaker_name(segment.speaker, label)}: " if segment.speaker else ""


def to_text(transcript: Transcript, label: str = SPEAKER) -> str:
    """The plain text; where speakers were told apart, each change of speaker starts a line ``Speaker 1: …``."""
    if not any(s.speaker for s in transcript.segments):
        return transcript.text.strip()
    lines: list[tuple[str | None, list[str]]] = []
    for s in transcript.segments:
        if not s.text.strip():
            continue
        if lines and lines[-1][0] == s.speaker:
            lines[-1][1].append(s.text.strip())
        else:
            lines.append((s.speaker, [s.text.strip()]))
    return "\n".join(f"{speaker_name(who, label)}: {' '.join(texts)}" if who else " ".join(texts)
                     for who, texts in lines)


def _timed(segment: Segment) -> str:
    timed = [w for w in segment.words if w.word.strip()]
    if not timed or any(not segment.start <= w.start < segment.end for w in timed):
        return segment.text.strip()  # words timed outside their cue: the plain text
    first, *rest = timed  # a time inside a cue must come after the cue's start
    return " ".join([first.word.strip(), *(f"<{_stamp(max(w.start, segment.start + 0.001), '.')}>{w.word.strip()}"
                                           for w in rest)])


def to_json(transcript: Transcript, **extra: Any) -> str:
    return json.dumps({**extra, **transcript.to_dict()}, ensure_ascii=False)


def to_markdown(transcript: Transcript) -> str:
    """A transcript to read: one paragraph per segment, each opened by its time."""
    if not transcript.segments:
        return transcript.text.strip() + "\n"
    return "\n\n".join(f"**[{_stamp(s.start, '.')[:8]}]** {s.text.strip()}" for s in transcript.segments
                         if s.text.strip()) + "\n"


def render(transcript: Transcript, fmt: str, words: bool = False, label: str = SPEAKER, **extra: Any) -> str:
    """``label``: what a speaker is called ("Speaker", "Pembicara"), where speakers were told apart."""
    if fmt in ("text", "txt"):
        return to_text(transcript, label)
    if fmt == "md":
        return to_markdown(transcript)
    if fmt == "srt":
        return to_srt(transcript, words, label)
    if fmt == "vtt":
        return to_vtt(transcript, label)
    if fmt == "json":
        return to_json(transcript, **extra)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


MESSAGE_LIMIT = 4096  # characters in one Telegram message
_SENTENCE_END = re.compile(r"[.!?…。](?=\s)")


def split_text(text: str, limit: int = MESSAGE_LIMIT, most: int | None = None) -> list[str]:
    """Pieces of at most ``limit`` characters, cut at a sentence end when one is near, else at a word boundary; with
    ``most``, only the first ``most`` pieces (the caller sends the rest as a file). Linear in the text: the rest is
    never copied (a 2 MB answer split piece by piece by copying what was left held a bot for minutes)."""
    text = text.strip()
    parts: list[str] = []
    start = 0
    while len(text) - start > limit and (most is None or len(parts) < most):
        window = text[start:start + limit]
        ends = [m.end() for m in _SENTENCE_END.finditer(window)]
        cut = ends[-1] if ends and ends[-1] > limit // 2 else -1
        if cut < 0:
            space = window.rfind(" ")
            cut = space if space > limit // 4 else limit
        parts.append(window[:cut].rstrip())
        start += cut
        while start < len(text) and text[start].isspace():
            start += 1
    if start < len(text) and (most is None or len(parts) < most):
        parts.append(text[start:])
    return parts
