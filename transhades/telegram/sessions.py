"""Telegram session strings in the database (``database_url``), for a front or worker on a machine whose disk does
not outlive it: the next start, anywhere, resumes the session instead of logging in again. A session string is
a secret (it is the login): it is registered with the redactor the moment it is read or made, never logged."""

from __future__ import annotations

import time
from pathlib import Path

from transhades.redaction import remember
from transhades.sql import Database


class SessionStore:
    def __init__(self, target: Path | str) -> None:
        self._db = Database(target)
        self._db.run("CREATE TABLE IF NOT EXISTS telegram_sessions (name TEXT PRIMARY KEY, session TEXT NOT NULL, "
                     "updated_at DOUBLE PRECISION NOT NULL)")

    def load(self, name: str) -> str | None:
        rows = self._db.rows("SELECT session FROM telegram_sessions WHERE name = ?", (name,))
        if not rows:
            return None
        remember([rows[0][0]])
        return str(rows[0][0])

    def save(self, name: str, session: str) -> None:
        remember([session])
        self._db.run("INSERT INTO telegram_sessions (name, session, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) "
                     "DO UPDATE SET session = excluded.session, updated_at = excluded.updated_at",
                     (name, session, time.time()))

    def close(self) -> None:
        self._db.close()
