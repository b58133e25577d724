"""Every transcript a user received, kept for that user for ``history.keep_days`` (0: nothing is kept), with the
full-text search behind /search: SQLite FTS5 with the Porter stemmer (a plural finds its singular), or PostgreSQL's
text search when ``database_url`` is set. Users only ever see their own.

A user who turns keeping off (``/history off``) has nothing kept from then on; that choice is the one thing about
them that stays (it outlives /forget, which would otherwise turn keeping back on). Each transcript's Telegram file
reference is kept beside it, so that Whisper can translate the same media later."""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from ..media import TelegramFile
from ..sql import Database
from ..transcript import Transcript

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Kept:
    job_id: str
    at: float  # wall clock
    transcript: Transcript
    passage: str = ""  # for a search: where the words were found
    media: TelegramFile | None = None  # what was transcribed (given by ``get``)


class History:
    def __init__(self, target: Path | str, keep_days: float = 30.0, wall: Callable[[], float] = time.time) -> None:
        self._db = Database(target)
        self.keep_seconds = keep_days * 86400
        self.wall = wall
        self._db.script([
            "CREATE TABLE IF NOT EXISTS history (job_id TEXT PRIMARY KEY, user_id BIGINT NOT NULL, "
            "at DOUBLE PRECISION NOT NULL, text TEXT NOT NULL, transcript TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS history_user ON history (user_id, at)",
            "CREATE TABLE IF NOT EXISTS history_media (job_id TEXT PRIMARY KEY, user_id BIGINT NOT NULL, "
            "media TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS history_off (user_id BIGINT PRIMARY KEY)",
        ])
        if not self._db.postgres:
            self._db.run("CREATE VIRTUAL TABLE IF NOT EXISTS history_words USING fts5(text, content='history', "
                         "tokenize='porter unicode61')")

    def keeping(self, user_id: int) -> bool:
        """Whether this user's transcripts are kept (history on for the bot, and not turned off by them)."""
        return self.keep_seconds > 0 and not self._db.rows("SELECT 1 FROM history_off WHERE user_id = ?", (user_id,))

    def keep_for(self, user_id: int, on: bool) -> None:
        if on:
            self._db.run("DELETE FROM history_off WHERE user_id = ?", (user_id,))
        else:
            self._db.run("INSERT INTO history_off (user_id) VALUES (?) ON CONFLICT DO NOTHING", (user_id,))

    def add(self, user_id: int, job_id: str, transcript: Transcript, media: TelegramFile | None = None) -> bool:
        """Kept, unless history is off (for everyone or for this user) or there is no text; True when kept."""
        if not transcript.text.strip() or not self.keeping(user_id):
            return False
        with self._db.transaction() as db:
            if media is not None:
                db.run("INSERT INTO history_media (job_id, user_id, media) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                       (job_id, user_id, json.dumps(asdict(media))))
            added = db.run("INSERT INTO history (job_id, user_id, at, text, transcript) VALUES (?, ?, ?, ?, ?) "
                           "ON CONFLICT DO NOTHING",
                           (job_id, user_id, self.wall(), transcript.text, json.dumps(transcript.to_dict())))
            if added and not db.postgres:
                db.run("INSERT INTO history_words (rowid, text) SELECT rowid, text FROM history WHERE job_id = ?",
                       (job_id,))
        return True

    def latest(self, user_id: int, count: int = 5) -> list[Kept]:
        rows = self._db.rows("SELECT job_id, at, transcript FROM history WHERE user_id = ? AND at >= ? "
                             "ORDER BY at DESC LIMIT ?", (user_id, self._since(), count))
        return [Kept(job_id, at, Transcript.from_dict(json.loads(body))) for job_id, at, body in rows]

    def get(self, user_id: int, job_id: str) -> Kept | None:
        """One of the user's transcripts (latest when ``job_id`` is empty), with its media when known."""
        where = "h.job_id = ?" if job_id else "h.at >= ? ORDER BY h.at DESC LIMIT 1"
        rows = self._db.rows("SELECT h.job_id, h.at, h.transcript, m.media FROM history h LEFT JOIN history_media m "
                             f"ON m.job_id = h.job_id WHERE h.user_id = ? AND {where}",
                             (user_id, job_id or self._since()))
        if not rows:
            return None
        found, at, body, media = rows[0]
        return Kept(found, at, Transcript.from_dict(json.loads(body)),
                    media=TelegramFile(**json.loads(media)) if media else None)

    def search(self, user_id: int, words: str, count: int = 5) -> list[Kept]:
        """Best matches first, each with the passage that matched."""
        terms = _WORD.findall(words.lower())
        if not terms:
            return []
        if self._db.postgres:
            rows = self._db.rows(
                "SELECT job_id, at, transcript, ts_headline('english', text, q, 'StartSel=«, StopSel=», MaxWords=14, "
                "MinWords=6') FROM history, plainto_tsquery('english', ?) q WHERE user_id = ? AND at >= ? AND "
                "to_tsvector('english', text) @@ q ORDER BY ts_rank(to_tsvector('english', text), q) DESC LIMIT ?",
                (" ".join(terms), user_id, self._since(), count))
        else:
            rows = self._db.rows(
                "SELECT h.job_id, h.at, h.transcript, snippet(history_words, 0, '«', '»', '…', 12) "
                "FROM history_words JOIN history h ON h.rowid = history_words.rowid WHERE history_words MATCH ? "
                "AND h.user_id = ? AND h.at >= ? ORDER BY history_words.rank LIMIT ?",
                (" ".join(f'"{t}"' for t in terms), user_id, self._since(), count))
        return [Kept(job_id, at, Transcript.from_dict(json.loads(body)), passage)
                for job_id, at, body, passage in rows]

    def stats(self, user_id: int) -> dict[str, object]:
        """How many transcripts, how much audio, in which languages, by which providers (most used first)."""
        languages: dict[str, int] = {}
        providers: dict[str, int] = {}
        seconds = 0.0
        rows = self._db.rows("SELECT transcript FROM history WHERE user_id = ? AND at >= ?", (user_id, self._since()))
        for (body,) in rows:
            data = json.loads(body)
            seconds += float(data.get("duration") or 0.0)
            languages[data.get("language") or "?"] = languages.get(data.get("language") or "?", 0) + 1
            for provider in str(data.get("provider") or "?").split("+"):
                providers[provider] = providers.get(provider, 0) + 1
        return {"count": len(rows), "seconds": seconds,
                "languages": sorted(languages.items(), key=lambda kv: (-kv[1], kv[0])),
                "providers": sorted(providers.items(), key=lambda kv: (-kv[1], kv[0]))}

    def forget(self, user_id: int) -> int:
        """Everything kept for this user, gone; how many transcripts that was."""
        with self._db.transaction() as db:
            if not db.postgres:
                db.run("DELETE FROM history_words WHERE rowid IN (SELECT rowid FROM history WHERE user_id = ?)",
                       (user_id,))
            db.run("DELETE FROM history_media WHERE user_id = ?", (user_id,))
            return db.run("DELETE FROM history WHERE user_id = ?", (user_id,))

    def prune(self) -> int:
        """Forget what is older than ``keep_days``."""
        with self._db.transaction() as db:
            if not db.postgres:
                db.run("DELETE FROM history_words WHERE rowid IN (SELECT rowid FROM history WHERE at < ?)",
                       (self._since(),))
            db.run("DELETE FROM history_media WHERE job_id IN (SELECT job_id FROM history WHERE at < ?)",
                   (self._since(),))
            return db.run("DELETE FROM history WHERE at < ?", (self._since(),))

    def _since(self) -> float:
        return self.wall() - self.keep_seconds if self.keep_seconds > 0 else float("inf")

    def close(self) -> None:
        self._db.close()
