"""Speaker turns laid over a transcript: each segment (or, where words are timed, each run of words) gets the
speaker who talks most during it; speakers are numbered in the order they first speak. One speaker found: the
transcript is left as it was (a label on every line says nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from transhades.transcript import Segment, Transcript, Word


class TurnLike(Protocol):
    @property
    def start(self) -> float: ...

    @property
    def end(self) -> float: ...

    @property
    def speaker(self) -> int: ...


def speaker_at(turns: Sequence[TurnLike], start: float, end: float) -> int | None:
    """Who talks most between ``start`` and ``end``; the nearest turn when nobody does (a word in a pause)."""
    if not turns:
        return None
    overlap: dict[int, float] = {}
    for turn in turns:
        shared = min(end, turn.end) - max(start, turn.start)
        if shared > 0:
            overlap[turn.speaker] = overlap.get(turn.speaker, 0.0) + shared
    if overlap:
        return max(overlap, key=overlap.__getitem__)
    middle = (start + end) / 2
    return min(turns, key=lambda t: min(abs(middle - t.start), abs(middle - t.end))).speaker


def labelled(transcript: Transcript, turns: Sequence[TurnLike], order: dict[str, str] | None = None) -> Transcript:
    """``order``, when given, is filled with the turns' speakers ("3") and the labels they got ("1")."""
    if len({t.speaker for t in turns}) < 2 or not transcript.segments:
        return transcript
    pieces: list[Segment] = []
    for segment in transcript.segments:
        pieces += _split(segment, turns)
    order = {} if order is None else order
    numbered = tuple(replace(p, speaker=order.setdefault(p.speaker, str(len(order) + 1))) if p.speaker else p
                     for p in pieces)
    return replace(transcript, segments=numbered)


def _split(segment: Segment, turns: Sequence[TurnLike]) -> list[Segment]:
    """A segment as one piece per speaker: at word boundaries where words are timed, else whole."""
    if not segment.words:
        who = speaker_at(turns, segment.start, segment.end)
        return [replace(segment, speaker=str(who) if who is not None else None)]
    runs: list[tuple[int | None, list[Word]]] = []
    for word in segment.words:
        who = speaker_at(turns, word.start, word.end)
        if runs and runs[-1][0] == who:
            runs[-1][1].append(word)
        else:
            runs.append((who, [word]))
    if len(runs) == 1:
        return [replace(segment, speaker=str(runs[0][0]) if runs[0][0] is not None else None)]
    return [Segment(words[0].start, words[-1].end, " ".join(w.word.strip() for w in words), tuple(words),
                    str(who) if who is not None else None, segment.language) for who, words in runs]
