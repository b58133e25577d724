"""Each chat's vocabulary, kept beside the settings (SQLite or PostgreSQL): in a private chat its user's, in a group
its admins'. Kept like settings: until it is cleared, or until /forget of the user who added the terms."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from transhades.sql import Database
from transhades.vocabulary.terms import MOST_TERMS, VocabularyProblem, merged


class VocabularyBook:
    def __init__(self, target: Path | str | Database, wall: Callable[[], float] = time.time) -> None:
        self._db = target if isinstance(target, Database) else Database(target)
        self.wall = wall
        self._db.run("CREATE TABLE IF NOT EXISTS vocabulary (chat_id BIGINT NOT NULL, term TEXT NOT NULL, "
                     "folded TEXT NOT NULL, added_by BIGINT NOT NULL, at DOUBLE PRECISION NOT NULL, "
                     "PRIMARY KEY (chat_id, folded))")

    def terms(self, chat_id: int) -> tuple[str, ...]:
        return tuple(term for (term,) in self._db.rows(
            "SELECT term FROM vocabulary WHERE chat_id = ? ORDER BY at, term", (chat_id,)))

    def add(self, chat_id: int, user_id: int, terms: tuple[str, ...]) -> tuple[str, ...]:
        """The terms that were new; raises ``VocabularyProblem`` when the chat's list would pass ``MOST_TERMS``."""
        with self._db.transaction() as db:
            have = {folded for (folded,) in db.rows("SELECT folded FROM vocabulary WHERE chat_id = ?", (chat_id,))}
            new = tuple(t for t in merged(terms) if t.casefold() not in have)
            if len(have) + len(new) > MOST_TERMS:
                raise VocabularyProblem("vocab_full", most=MOST_TERMS, have=len(have))
            now = self.wall()
            for n, term in enumerate(new):
                db.run("INSERT INTO vocabulary (chat_id, term, folded, added_by, at) VALUES (?, ?, ?, ?, ?)",
                       (chat_id, term, term.casefold(), user_id, now + n * 1e-6))
        return new

    def remove(self, chat_id: int, terms: tuple[str, ...]) -> tuple[str, ...]:
        """The terms that were there and are gone."""
        gone = []
        with self._db.transaction() as db:
            for term in terms:
                if db.run("DELETE FROM vocabulary WHERE chat_id = ? AND folded = ?", (chat_id, term.casefold())):
                    gone.append(term)
        if gone:
            self._db.scrub(("vocabulary",))
        return tuple(gone)

    def clear(self, chat_id: int) -> int:
        erased = self._db.run("DELETE FROM vocabulary WHERE chat_id = ?", (chat_id,))
        if erased:
            self._db.scrub(("vocabulary",))
        return erased

    def forget(self, user_id: int) -> int:
        """The user's own list (their private chat) and every term they added anywhere, gone from the files."""
        erased = self._db.run("DELETE FROM vocabulary WHERE chat_id = ? OR added_by = ?", (user_id, user_id))
        if erased:
            self._db.scrub(("vocabulary",))
        return erased
