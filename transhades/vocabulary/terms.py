"""What a vocabulary may hold, read from a user's line ("Kemendikbudristek, Sutrisno Wibowo") or the config.

A term is a name or phrase of at most ``MOST_CHARS`` characters; a list holds at most ``MOST_TERMS``. A term that
looks like markup, a link, a mention or a command is refused: it would be sent to every provider as a prompt."""

from __future__ import annotations

import hashlib
import re
import unicodedata

MOST_TERMS = 100
MOST_CHARS = 60
_SEPARATORS = re.compile(r"[,;\n]+")
_MARKUP = re.compile(r"[<>`*_\[\]{}|\\]|https?://|www\.|^[@#/]")


class VocabularyProblem(ValueError):
    """What is wrong with a vocabulary, as a text key and its values (said in the user's language)."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, values


def parse(text: str) -> tuple[str, ...]:
    """The terms of a comma-, semicolon- or line-separated list, each tidied (spaces collapsed, NFC), duplicates
    (whatever their case) said once. Raises ``VocabularyProblem`` for an empty list, a term too long, or markup."""
    terms: list[str] = []
    for raw in _SEPARATORS.split(text):
        term = " ".join(unicodedata.normalize("NFC", raw).split())
        if not term:
            continue
        if any(unicodedata.category(c).startswith("C") for c in term) or _MARKUP.search(term):
            raise VocabularyProblem("vocab_markup", term=term[:MOST_CHARS])
        if len(term) > MOST_CHARS:
            raise VocabularyProblem("vocab_term_too_long", term=term[:MOST_CHARS] + "…", most=MOST_CHARS)
        terms.append(term)
    if not terms:
        raise VocabularyProblem("vocab_empty")
    return merged(terms)


def merged(*lists: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The lists joined in order, each term once (case-insensitively)."""
    seen: set[str] = set()
    out: list[str] = []
    for terms in lists:
        for term in terms:
            if term.casefold() not in seen:
                seen.add(term.casefold())
                out.append(term)
    return tuple(out)


def fingerprint(terms: tuple[str, ...]) -> str:
    """A short, stable name of a vocabulary, for cache keys: the same media with other terms is another transcript."""
    return hashlib.sha256("\n".join(sorted(t.casefold() for t in terms)).encode()).hexdigest()[:16]


def as_prompt(terms: tuple[str, ...]) -> str:
    """The terms as Whisper-style prompt text (OpenAI-compatible ``prompt``, the local model's hotwords)."""
    return ", ".join(terms)


def vocabulary_of_config(value: object, problems: list[str]) -> tuple[str, ...]:
    """The config's ``vocabulary:`` (a list, or one comma-separated string), its problems as config lines."""
    if value in (None, "", []):
        return ()
    text = value if isinstance(value, str) else "\n".join(str(v) for v in value) if isinstance(value, list) else None
    if text is None:
        problems.append("vocabulary: must be a list of names and terms, e.g. [Kemendikbudristek, Sutrisno Wibowo]")
        return ()
    try:
        terms = parse(text)
    except VocabularyProblem as problem:
        term = problem.values.get("term")
        problems.append(f"vocabulary: {term!r} " + (f"is longer than {MOST_CHARS} characters"
                                                     if problem.key == "vocab_term_too_long" else
                                                     "looks like markup, a link or a mention; give plain names")
                        if term else "vocabulary: holds no term")
        return ()
    if len(terms) > MOST_TERMS:
        problems.append(f"vocabulary: {len(terms)} terms; at most {MOST_TERMS}")
        return ()
    return terms
