"""Telegram session strings in the database (``database_url``), for a front or worker on a machine whose disk does
not outlive it: the next start, anywhere, resumes the session instead of logging in again. A session string is
a secret (it is the login): it is registered with the redactor the moment it is read or made, never logged."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from transhades.redaction import remember
from transhades.sql import Database

log = logging.getLogger("transhades.bot")


class SessionStore:
    def __init__(self, target: Path | str) -> None:
        self.term: Callable[[], int] | None = None  # a cluster front's lease term: see save
        self._db = Database(target)
        self._db.run("CREATE TABLE IF NOT EXISTS telegram_sessions (name TEXT PRIMARY KEY, session TEXT NOT NULL, "
                     "updated_at DOUBLE PRECISION NOT NULL)")

    def load(self, name: str) -> str | None:
        rows = self._db.rows("SELECT session FROM telegram_sessions WHERE name = ?", (name,))
        if not rows:
            return None
        remember([rows[0][0]])
        return str(rows[0][0])

    def save(self, name: str, session: str) -> bool:
        """Kept for the next start; in a cluster's front (``term``), refused (False) once a newer front has claimed
        the journal's fence (``telegram/journal.py``), in the same transaction as the write."""
        remember([session])
        with self._db.transaction() as db:
            if self.term is not None:
                db.run("CREATE TABLE IF NOT EXISTS fence (name TEXT PRIMARY KEY, term BIGINT NOT NULL)")
                rows = db.rows("SELECT term FROM fence WHERE name = 'front'" + (" FOR SHARE" if db.postgres else ""))
                if rows and int(rows[0][0]) > self.term():
                    log.warning("not saving session %s: a newer front (term %s) holds the cluster", name, rows[0][0])
                    return False
            db.run("INSERT INTO telegram_sessions (name, session, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) "
                   "DO UPDATE SET session = excluded.session, updated_at = excluded.updated_at",
                   (name, session, time.time()))
        return True

    def close(self) -> None:
        self._db.close()
