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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from transhades.media import TelegramFile
from transhades.sql import Database, TooSlow

__all__ = ["History", "Kept", "TooSlow", "passage"]
from transhades.transcript import Transcript

_WORD = re.compile(r"\w+", re.UNICODE)
_ENDINGS = ("ies", "es", "s", "ing", "ed", "ly")


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

    def answering(self, chat_id: int, message_id: int) -> tuple[str, int] | None:
        """The kept transcript (job id, its user) whose answer replies to that message of that chat: a bot's
        transcript replies to the recording it transcribes, whose id is part of the job's."""
        rows = self._db.rows("SELECT job_id, user_id FROM history WHERE job_id LIKE ? ORDER BY at DESC LIMIT 1",
                             (f"tg-{chat_id}-{message_id}-%",))
        return (rows[0][0], int(rows[0][1])) if rows else None

    def replace(self, user_id: int, job_id: str, transcript: Transcript) -> bool:
        """The kept transcript rewritten (its speakers named): the words, and so the search index, stay."""
        return self._db.run("UPDATE history SET transcript = ? WHERE user_id = ? AND job_id = ?",
                            (json.dumps(transcript.to_dict()), user_id, job_id)) > 0

    def search(self, user_id: int, words: str, count: int = 5, seconds: float = 2.0) -> list[Kept]:
        """Best matches first, each with the passage that matched. The database only ranks (a snippet over a
        megabyte-long transcript would take the database half a minute); the passages of the few hits are found
        here. A search that takes longer than ``seconds`` raises :class:`TooSlow`."""
        terms = _WORD.findall(words.lower())
        if not terms:
            return []
        with self._db.deadline(seconds) as db:
            if db.postgres:
                rows = db.rows(
                    "SELECT job_id, at, transcript, text FROM history, plainto_tsquery('english', ?) q "
                    "WHERE user_id = ? AND at >= ? AND to_tsvector('english', text) @@ q "
                    "ORDER BY ts_rank(to_tsvector('english', text), q) DESC LIMIT ?",
                    (" ".join(terms), user_id, self._since(), count))
            else:
                rows = db.rows(
                    "SELECT h.job_id, h.at, h.transcript, h.text FROM history_words JOIN history h "
                    "ON h.rowid = history_words.rowid WHERE history_words MATCH ? AND h.user_id = ? AND h.at >= ? "
                    "ORDER BY history_words.rank LIMIT ?",
                    (" ".join(f'"{t}"' for t in terms), user_id, self._since(), count))
        return [Kept(job_id, at, Transcript.from_dict(json.loads(body)), passage(text, terms))
                for job_id, at, body, text in rows]

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
        """Everything kept for this user, gone from the tables, the search index and the files; how many
        transcripts that was."""
        return self._erase("user_id = ?", (user_id,))

    def prune(self) -> int:
        """Forget what is older than ``keep_days`` (run periodically); how many transcripts that was."""
        return self._erase("at < ?", (self._since(),)) if self.keep_seconds > 0 else 0

    def _erase(self, where: str, params: tuple) -> int:
        with self._db.transaction() as db:
            if not db.postgres:  # the index reads the words to remove from the rows, so it goes first
                db.run(f"DELETE FROM history_words WHERE rowid IN (SELECT rowid FROM history WHERE {where})", params)
            db.run(f"DELETE FROM history_media WHERE job_id IN (SELECT job_id FROM history WHERE {where})", params)
            erased = db.run(f"DELETE FROM history WHERE {where}", params)
        if erased:
            if not self._db.postgres:  # merge the index into one segment: no deleted word is left in an old one
                self._db.run("INSERT INTO history_words (history_words) VALUES ('optimize')")
            self._db.scrub(("history", "history_media"))
        return erased

    def _since(self) -> float:
        return self.wall() - self.keep_seconds if self.keep_seconds > 0 else float("inf")

    def close(self) -> None:
        self._db.close()


def passage(text: str, terms: list[str], around: int = 80) -> str:
    """The words around the first place a term was said (or another form of it, as the index's stemmer found it:
    "transcripts" finds "transcript", "club" finds "clubs"), the word itself in «marks»."""
    lower = text.lower()
    stems = {stem for t in terms for stem in [t] + [t[:-len(end)] for end in _ENDINGS
                                                   if t.endswith(end) and len(t) - len(end) >= 3]}
    found = [m for m in (re.search(rf"\b{re.escape(s)}\w*", lower) for s in stems) if m]
    if not found:
        return " ".join(text.split()[:12]) + "…"
    hit = min(found, key=lambda m: m.start())
    start, end = max(0, hit.start() - around), min(len(text), hit.end() + around)
    before = text[start:hit.start()]
    after = text[hit.end():end]
    before = before[before.find(" ") + 1:] if start > 0 and " " in before else before
    after = after[:after.rfind(" ")] if end < len(text) and " " in after else after
    return f"{'…' if start > 0 else ''}{before}«{text[hit.start():hit.end()]}»{after}{'…' if end < len(text) else ''}"
