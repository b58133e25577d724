"""A transcript's near misses of the vocabulary, spelled as given: "kemendiku Dristak" becomes "Kemendikbudristek"
where the words sound alike enough, and nothing is written where nothing like a term was heard.

This works on any provider's text, after the fact, so a term can never appear in a transcript of audio that does not
hold something close to it (a prompt or hotwords given to Whisper make it write listed names into speech that has
none: measured in the ``vocab`` benchmark). A run of one to a few words is compared with each term by their letters
(case, spaces and punctuation aside); the closest run at least ``ALIKE`` alike is replaced, its punctuation kept."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from difflib import SequenceMatcher

from transhades.transcript import Transcript

ALIKE = 0.78  # letters alike (difflib's ratio) for a run of words to be taken for a term
LISTED_LIKE = 0.75  # a hinted word this alike a listed one is checked too (Whisper writes pieces of names)
HEARD = 0.6  # letters alike for a vocabulary word in a hinted decoding to count as heard by the plain one
_WORD = re.compile(r"\S+")
_PUNCTUATION = ".,;:!?\"')»”’…"


def _letters(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in folded if c.isalnum())


def applied(transcript: Transcript, terms: tuple[str, ...]) -> Transcript:
    """The transcript with its text and each segment's text corrected (word timings are left as heard)."""
    if not terms:
        return transcript
    return replace(transcript, text=corrected(transcript.text, terms),
                   segments=tuple(replace(s, text=corrected(s.text, terms)) for s in transcript.segments))


def corrected(text: str, terms: tuple[str, ...]) -> str:
    """``text`` with each near miss of a term replaced by the term (as often as it is found)."""
    for term in sorted(terms, key=len, reverse=True):  # longer terms first: "Sutrisno Wibowo" before "Wibowo"
        text = _one(text, term)
    return text


def _one(text: str, term: str) -> str:
    target = _letters(term)
    if len(target) < 6:  # too short to tell from ordinary words by their letters ("BRIN", "brain")
        return text
    words = list(_WORD.finditer(text))
    most = len(term.split()) + 2
    out, at, i = [], 0, 0
    while i < len(words):
        best = None
        for n in range(1, min(most, len(words) - i) + 1):
            run = text[words[i].start():words[i + n - 1].end()]
            letters = _letters(run)
            if not letters or not 0.6 * len(target) <= len(letters) <= 1.5 * len(target):
                continue
            score = SequenceMatcher(None, letters, target, autojunk=False).ratio()
            if score >= ALIKE and (best is None or score > best[0]):
                best = (score, n, run)
        if best is None:
            i += 1
            continue
        _, n, run = best
        tail = run[len(run.rstrip(_PUNCTUATION)):]  # the punctuation after the run stays
        out.append(text[at:words[i].start()] + term + tail)
        at = words[i + n - 1].end()
        i += n
    out.append(text[at:])
    return "".join(out)


def supported(hinted: str, plain: str, terms: tuple[str, ...]) -> str:
    """``hinted`` (decoded with the terms as hotwords) without the words of the terms that ``plain`` (decoded
    without them) heard nothing like: a listed name is kept where the audio has something close to it, and dropped
    where Whisper only wrote it because it was listed. Measured on the ``vocab`` benchmark (HEARD chosen there)."""
    listed = {_letters(word) for term in terms for word in term.split() if len(_letters(word)) >= 4}
    if not listed:
        return hinted
    heard = [_letters(word) for word in plain.split()]
    kept = []
    for token in hinted.split():
        letters = _letters(token)
        like = letters in listed or len(letters) >= 4 and any(
            SequenceMatcher(None, letters, word, autojunk=False).ratio() >= LISTED_LIKE for word in listed)
        if like and not _heard_like(letters, heard):
            continue  # a listed word, or a piece of one ("Sarumpa"), that the plain decoding heard nothing like
        kept.append(token)
    return " ".join(kept)


def _heard_like(target: str, heard: list[str]) -> bool:
    """Is there a run of one to three heard words at least ``HEARD`` alike ``target`` by their letters?"""
    for i in range(len(heard)):
        run = ""
        for n in range(3):
            if i + n >= len(heard):
                break
            run += heard[i + n]
            if run and SequenceMatcher(None, run, target, autojunk=False).ratio() >= HEARD:
                return True
    return False
