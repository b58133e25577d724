"""/forget: what is erased here (a user's transcripts and their index, settings, the journal of their finished
jobs), what the cache is asked to erase, and the answer that lists exactly what went. Each store scrubs its own
files; this module only decides what to ask of them and what to tell the user."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from transhades.telegram.texts import say


@dataclass(frozen=True)
class Erased:
    """What /forget erased, to tell the user exactly that."""

    transcripts: int = 0
    settings: bool = False
    journal: int = 0
    voices: int = 0
    vocabulary: int = 0  # terms they added, in any chat, and their private chat's
    cache: int | None = 0  # None: the cache could not be reached


@dataclass(frozen=True)
class ForgetAll:
    """/forget confirmed: the stores here are erased (``erased``); the cache's share is next, then the answer."""

    user_id: int
    chat_id: int
    message_id: int | None
    lang: str
    erased: Erased

    def with_cache(self, erased: int | None) -> ForgetAll:
        """The same /forget, with the cache's share told (None: the cache could not be reached)."""
        return replace(self, erased=replace(self.erased, cache=erased))


def erase(user_id: int, history: Any, settings: Any, journal: Any, voices: Any = None,
          vocabulary: Any = None) -> Erased:
    """Everything kept about this user here (with the voiceprints they named and the vocabulary terms they added, in
    every chat); the cache's share is the caller's to erase."""
    return Erased(history.forget(user_id) if history is not None else 0, settings.forget(user_id),
                  journal.forget(user_id) if journal is not None else 0,
                  voices.forget_user(user_id) if voices is not None else 0,
                  vocabulary.forget(user_id) if vocabulary is not None else 0)


def forget_answer(done: ForgetAll, stays_off: bool) -> str:
    """Exactly what was erased, and whether nothing is kept now (not when the cache could not be reached)."""
    lang, erased = done.lang, done.erased
    parts = [say(lang, "erased_transcripts", count=erased.transcripts)] if erased.transcripts else []
    parts += [say(lang, "erased_cache", count=erased.cache)] if erased.cache else []
    parts += [say(lang, "erased_journal", count=erased.journal)] if erased.journal else []
    parts += [say(lang, "erased_voices", count=erased.voices)] if erased.voices else []
    parts += [say(lang, "erased_vocabulary", count=erased.vocabulary)] if erased.vocabulary else []
    parts += [say(lang, "erased_settings")] if erased.settings else []
    what = ", ".join(parts) or say(lang, "erased_nothing")
    text = say(lang, "forget_done" if erased.cache is not None else "forget_partial", what=what)
    return text + (say(lang, "forget_stays_off") if stays_off else "")
