"""Per-user choices (provider, Deepgram model, language, format), persisted in SQLite or PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from transhades.sql import Database

FORMATS = ("text", "txt", "srt", "vtt")


@dataclass(frozen=True)
class Prefs:
    provider: str | None = None  # None: automatic
    deepgram_model: str | None = None
    language: str | None = None  # None: detect
    format: str = "text"
    speakers: str | None = None  # on | off | auto; None: the config's speakers.mode


class UserSettings:
    def __init__(self, target: Path | str) -> None:
        """``target``: a SQLite file, or a PostgreSQL URL (``database_url``)."""
        self._db = Database(target)
        self._db.run("CREATE TABLE IF NOT EXISTS prefs (user_id BIGINT PRIMARY KEY, provider TEXT, "
                     "deepgram_model TEXT, language TEXT, format TEXT NOT NULL DEFAULT 'text')")
        self._db.add_column("prefs", "speakers", "TEXT")

    @property
    def database(self) -> Database:
        return self._db

    def get(self, user_id: int) -> Prefs:
        rows = self._db.rows("SELECT provider, deepgram_model, language, format, speakers FROM prefs "
                             "WHERE user_id = ?", (user_id,))
        return Prefs(*rows[0]) if rows else Prefs()

    def update(self, user_id: int, **changes: object) -> Prefs:
        prefs = replace(self.get(user_id), **changes)  # type: ignore[arg-type]
        self._db.run("INSERT INTO prefs (user_id, provider, deepgram_model, language, format, speakers) "
                     "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET provider = excluded.provider, "
                     "deepgram_model = excluded.deepgram_model, language = excluded.language, "
                     "format = excluded.format, speakers = excluded.speakers",
                     (user_id, prefs.provider, prefs.deepgram_model, prefs.language, prefs.format, prefs.speakers))
        return prefs

    def forget(self, user_id: int) -> bool:
        """The user's choices, gone (back to the defaults); True when there were any."""
        deleted = self._db.run("DELETE FROM prefs WHERE user_id = ?", (user_id,)) > 0
        if deleted:
            self._db.scrub(("prefs",))
        return deleted

    def close(self) -> None:
        self._db.close()
