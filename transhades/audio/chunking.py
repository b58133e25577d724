"""Where to cut a long recording: plain arithmetic over its duration, size and silences.

Each chunk must fit the smallest upload limit it may be sent to and should not exceed ``chunk_seconds`` (so a
long file fans out over several providers). Boundaries move to the middle of a nearby silence when there is one,
so no word is cut in half; each chunk after the first starts ``overlap`` seconds early, and the stitcher keeps
only what falls inside each chunk's own span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SIZE_MARGIN = 0.92  # VBR codecs vary: plan below the limit and check the real size after cutting


@dataclass(frozen=True)
class Span:
    start: float  # where the chunk file starts (overlap included)
    end: float
    keep_from: float  # the part this chunk speaks for
    keep_until: float


def parse_silences(ffmpeg_log: str) -> list[tuple[float, float]]:
    """(start, end) pairs from ffmpeg's silencedetect lines."""
    silences: list[tuple[float, float]] = []
    start: float | None = None
    for line in ffmpeg_log.splitlines():
        if "silence_start:" in line:
            try:
                start = float(line.split("silence_start:")[1].split()[0])
            except (IndexError, ValueError):
                start = None
        elif "silence_end:" in line and start is not None:
            try:
                end = float(line.split("silence_end:")[1].split()[0])
            except (IndexError, ValueError):
                continue
            silences.append((max(0.0, start), end))
            start = None
    return silences


def plan(duration: float, size: int, silences: list[tuple[float, float]], max_bytes: int | None,
         chunk_seconds: float | None, overlap: float = 1.0, first_seconds: float | None = None) -> list[Span]:
    """Spans covering ``[0, duration]``. One span when the whole recording fits both limits. A recording that is
    cut anyway gets a short first part (about ``first_seconds``, at a pause) so that its first text is delivered
    long before the last."""
    limit = _limit(duration, size, max_bytes, chunk_seconds, overlap)
    if duration <= limit:
        return [Span(0.0, duration, 0.0, math.inf)]
    mids = sorted((a + b) / 2 for a, b in silences)
    boundaries: list[float] = []
    previous = 0.0
    if first_seconds and first_seconds < 0.5 * limit:
        near = [m for m in mids if abs(m - first_seconds) <= 0.25 * first_seconds]
        previous = min(near, key=lambda m: abs(m - first_seconds)) if near else first_seconds
        boundaries.append(previous)
    while duration - previous > limit:
        previous = _cut(previous, duration, limit, mids)
        boundaries.append(previous)
    return _spans([0.0, *boundaries, duration], overlap)


def _limit(duration: float, size: int, max_bytes: int | None, chunk_seconds: float | None, overlap: float) -> float:
    """The longest a chunk may be: ``chunk_seconds``, and what fits ``max_bytes`` at this recording's bitrate."""
    limit = chunk_seconds or math.inf
    if max_bytes and size > 0 and duration > 0:
        bytes_per_second = size / duration
        limit = min(limit, max(1.0, max_bytes * SIZE_MARGIN / bytes_per_second - overlap))
    return limit


def _cut(previous: float, duration: float, limit: float, mids: list[float]) -> float:
    """The next boundary: an even share of what is left (so the chunks fan out evenly), moved to a nearby pause."""
    remaining = math.ceil((duration - previous) / limit)
    share = (duration - previous) / remaining
    target = previous + share
    lo, hi = previous + 0.5 * limit, min(previous + limit, duration - 0.5)
    reach = min(30.0, 0.25 * share)  # how far a cut may move to reach a pause
    near = [m for m in mids if lo <= m <= hi and abs(m - target) <= reach]
    return min(near, key=lambda m: abs(m - target)) if near else min(target, hi)


def _spans(edges: list[float], overlap: float) -> list[Span]:
    spans = []
    for i in range(len(edges) - 1):
        start = max(0.0, edges[i] - overlap) if i else 0.0
        keep_from = edges[i] if i else 0.0
        keep_until = edges[i + 1] if i < len(edges) - 2 else math.inf
        spans.append(Span(start, edges[i + 1], keep_from, keep_until))
    return spans
