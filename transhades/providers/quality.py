"""What Whisper's text must not be trusted with, found without another model: a window that loops (the same
words again and again, which Whisper does on long or unclear audio, "nalak nalak nalak ..." for 23 s), and text
where it heard no speech (music, noise, silence). The local provider decodes a looping window again, and cuts
what still repeats; a segment that is probably not speech is dropped."""

from __future__ import annotations

import re
from typing import Any

# Text that gzip compresses more than this loops, whatever its words. Whisper's own bound, 2.4, starts its
# temperature fallback; a whole window of real speech that repeats itself (a phone menu: "to increase the audio
# volume from other participants, to increase your speaking volume ...") reaches 3.2 on the recordings the
# benchmark reads, and decoding such a window again in pieces heard it worse. Exact loops are found by their runs.
COMPRESSION_LIMIT = 3.5
NO_SPEECH = 0.6  # with a low log-probability: Whisper's own rule for "nothing was said here"
SILENT_LOGPROB = -1.0
SURE_NO_SPEECH = 0.9  # this sure, whatever the log-probability
RUN = 3  # this many repetitions in a row is a loop (two is speech: "five five", "ya ya")
PATTERN_WORDS = 20  # a loop repeats up to this many words (a sentence said again and again)

_WORD = re.compile(r"\w+", re.UNICODE)


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def longest_run(words: list[str], n: int) -> int:
    """How many times in a row the most repeated ``n`` words follow each other."""
    best = 1
    for phase in range(n):
        previous, count = None, 1
        for at in range(phase, len(words) - n + 1, n):
            gram = tuple(words[at:at + n])
            count = count + 1 if gram == previous else 1
            best = max(best, count)
            previous = gram
    return best


def looping(text: str, compression_ratio: float | None = None) -> bool:
    """The window repeats itself: compresses like a loop, or up to ``PATTERN_WORDS`` words come back ``RUN`` times
    in a row."""
    if compression_ratio is not None and compression_ratio > COMPRESSION_LIMIT:
        return True
    words = words_of(text)
    return any(longest_run(words, n) >= RUN for n in range(1, PATTERN_WORDS + 1) if len(words) >= RUN * n)


def collapse(text: str) -> str:
    """What still repeats after decoding again, said once: runs of ``RUN`` or more of the same words (longest
    patterns first) keep their first time."""
    tokens = text.split()
    for n in range(6, 0, -1):
        out: list[str] = []
        at = 0
        while at < len(tokens):
            gram = tokens[at:at + n]
            key = words_of(" ".join(gram))
            end = at + n
            repeats = 1
            while end + n <= len(tokens) and words_of(" ".join(tokens[end:end + n])) == key:
                end += n
                repeats += 1
            if repeats >= RUN:
                out.extend(gram)
                at = end
            else:
                out.append(tokens[at])
                at += 1
        tokens = out
    return " ".join(tokens)


def heard_nothing(segment: Any) -> bool:
    """Whisper itself says this is probably not speech (music, noise, silence that VAD let through)."""
    no_speech = float(getattr(segment, "no_speech_prob", 0.0) or 0.0)
    logprob = float(getattr(segment, "avg_logprob", 0.0) or 0.0)
    return no_speech > SURE_NO_SPEECH or (no_speech > NO_SPEECH and logprob < SILENT_LOGPROB)


def loops_across(texts: list[str]) -> list[tuple[int, int]]:
    """Runs of ``RUN`` or more consecutive segments saying the same thing (decoding that conditions on the text
    before falls into these): (first, last) index of each."""
    runs, start = [], 0
    for at in range(1, len(texts) + 1):
        if at == len(texts) or words_of(texts[at]) != words_of(texts[start]) or not words_of(texts[start]):
            if at - start >= RUN and words_of(texts[start]):
                runs.append((start, at - 1))
            start = at
    return runs
