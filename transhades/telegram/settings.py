"""Per-user choices (provider, Deepgram model, language, format), persisted in SQLite."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path

from ..private import private_file

FORMATS = ("text", "txt", "srt", "vtt")


@dataclass(frozen=True)
class Prefs:
    provider: str | None = None  # None: automatic
    deepgram_model: str | None = None
    language: str | None = None  # None: detect
    format: str = "text"


class UserSettings:
    def __init__(self, path: Path) -> None:
        private_file(path)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS prefs (user_id INTEGER PRIMARY KEY, provider TEXT, "
                         "deepgram_model TEXT, language TEXT, format TEXT NOT NULL DEFAULT 'text')")

    def get(self, user_id: int) -> Prefs:
        row = self._db.execute("SELECT provider, deepgram_model, language, format FROM prefs WHERE user_id = ?",
                               (user_id,)).fetchone()
        return Prefs(*row) if row else Prefs()

    def update(self, user_id: int, **changes: object) -> Prefs:
        prefs = replace(self.get(user_id), **changes)
        self._db.execute("INSERT OR REPLACE INTO prefs (user_id, provider, deepgram_model, language, format) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (user_id, prefs.provider, prefs.deepgram_model, prefs.language, prefs.format))
        return prefs

    def close(self) -> None:
        self._db.close()
