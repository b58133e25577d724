"""Transcript stores: memory (LRU), SQLite (default, persistent) and Redis.

A transcript is stored under several keys at once: ``sha256:<hex>`` of the media bytes, and an alias for the
source (Telegram's ``file_unique_id``), so a forwarded duplicate is answered before any download. A store that
cannot answer raises :class:`ProviderUnavailable`; the dispatcher treats that as a miss, never a failed job.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

from transhades.config import CacheConfig
from transhades.errors import ProviderUnavailable
from transhades.private import private_file
from transhades.transcript import Transcript

PRUNE_SECONDS = 3600.0  # how often a SQLite cache with keep_days erases what is older


class TranscriptStore(Protocol):
    def get(self, keys: Iterable[str], owner: str | None = None) -> Transcript | None:
        """The first key found; a hit makes the entry ``owner``'s too."""

    def put(self, keys: Iterable[str], transcript: Transcript, owner: str | None = None) -> None: ...

    def forget_owner(self, owner: str) -> int:
        """Erase ``owner``'s share: entries nobody else received are deleted (every key of them); how many."""

    def count(self) -> int:
        """Transcripts held: one per distinct media (its ``sha256:`` key), however many aliases it has."""

    def close(self) -> None: ...


def group_of(keys: Iterable[str]) -> str:
    """The keys stored together (aliases of one media in its languages) are one entry, named by its hash key
    when there is one: every put for the same media joins the same entry, and erasure takes all of it."""
    keys = list(keys)
    return next((k for k in keys if k.startswith("sha256:")), keys[0] if keys else "")


class MemoryStore:
    """Least-recently-used, bounded by ``max_items`` keys. Lost on restart."""

    def __init__(self, max_items: int = 10_000, keep_seconds: float = 0.0) -> None:
        self.max_items = max_items
        self.keep_seconds = keep_seconds  # 0: until erased or pushed out
        self._items: OrderedDict[str, tuple[str, Transcript, float]] = OrderedDict()  # key -> (entry, it, stored)
        self._owners: dict[str, set[str]] = {}  # entry -> users
        self._lock = threading.Lock()

    def get(self, keys: Iterable[str], owner: str | None = None) -> Transcript | None:
        with self._lock:
            for key in keys:
                found = self._items.get(key)
                if found is not None and not _expired(found[2], self.keep_seconds):
                    self._items.move_to_end(key)
                    if owner is not None:
                        self._owners.setdefault(found[0], set()).add(owner)
                    return found[1]
        return None

    def put(self, keys: Iterable[str], transcript: Transcript, owner: str | None = None) -> None:
        keys = list(keys)
        entry = group_of(keys)
        with self._lock:
            for key in [k for k, (_, _, stored) in self._items.items() if _expired(stored, self.keep_seconds)]:
                del self._items[key]
            for key in keys:
                self._items[key] = (entry, transcript, time.time())
                self._items.move_to_end(key)
            if owner is not None:
                self._owners.setdefault(entry, set()).add(owner)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def forget_owner(self, owner: str) -> int:
        with self._lock:
            gone = set()
            for entry, owners in list(self._owners.items()):
                if owner in owners:
                    owners.discard(owner)
                    if not owners:
                        gone.add(entry)
                        del self._owners[entry]
            for key in [k for k, (entry, _, _) in self._items.items() if entry in gone]:
                del self._items[key]
            return len(gone)

    def count(self) -> int:
        with self._lock:
            return sum(1 for key in self._items if key.startswith("sha256:"))

    def close(self) -> None:
        pass


class SqliteStore:
    """One row per key, JSON body; WAL so readers never wait for the writer. Survives restarts. Erased rows are
    overwritten (``secure_delete``) and the WAL truncated, so an erased transcript is gone from the files too. With
    ``keep_seconds``, a transcript older than that is no longer served, and is erased at the next store after an
    hour (``prune``)."""

    def __init__(self, path: Path, keep_seconds: float = 0.0) -> None:
        self.keep_seconds = keep_seconds
        self._pruned = 0.0
        try:
            private_file(path)  # transcripts are users' data: 0600 in a 0700 folder, whatever the umask
            self._db = sqlite3.connect(str(path), timeout=10, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS transcripts (key TEXT PRIMARY KEY, body TEXT NOT NULL, "
                "created REAL NOT NULL)"
            )
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(transcripts)")}
            if "entry" not in columns:  # a cache written before entries had owners
                self._db.execute("ALTER TABLE transcripts ADD COLUMN entry TEXT")
            self._db.execute("CREATE INDEX IF NOT EXISTS transcripts_entry ON transcripts (entry)")
            self._db.execute("CREATE TABLE IF NOT EXISTS owners (entry TEXT NOT NULL, owner TEXT NOT NULL, "
                             "PRIMARY KEY (entry, owner))")
            self._db.execute("CREATE INDEX IF NOT EXISTS owners_owner ON owners (owner)")
        except (sqlite3.Error, OSError) as exc:
            raise ProviderUnavailable(f"cache database {path} cannot be opened: {exc}") from None

    def get(self, keys: Iterable[str], owner: str | None = None) -> Transcript | None:
        keys = list(keys)
        if not keys:
            return None
        marks = ",".join("?" * len(keys))
        try:
            rows = self._db.execute(f"SELECT key, body, entry FROM transcripts WHERE key IN ({marks}) "
                                    "AND created >= ?", [*keys, self._since()]).fetchall()
            by_key = {key: (body, entry) for key, body, entry in rows}
            for key in keys:
                if key in by_key:
                    body, entry = by_key[key]
                    if owner is not None and entry is not None:
                        self._db.execute("INSERT OR IGNORE INTO owners (entry, owner) VALUES (?, ?)", (entry, owner))
                    return Transcript.from_dict(json.loads(body))
        except sqlite3.Error as exc:
            raise ProviderUnavailable(f"cache lookup failed: {exc}") from None
        return None

    def put(self, keys: Iterable[str], transcript: Transcript, owner: str | None = None) -> None:
        keys = list(keys)
        body = json.dumps(transcript.to_dict(), ensure_ascii=False)
        entry, now = group_of(keys), time.time()
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO transcripts (key, body, created, entry) "
                                     "VALUES (?, ?, ?, ?)", [(key, body, now, entry) for key in keys])
                if owner is not None:
                    self._db.execute("INSERT OR IGNORE INTO owners (entry, owner) VALUES (?, ?)", (entry, owner))
        except sqlite3.Error as exc:
            raise ProviderUnavailable(f"cache store failed: {exc}") from None
        if self.keep_seconds > 0 and now - self._pruned > PRUNE_SECONDS:
            self.prune()

    def _since(self) -> float:
        return time.time() - self.keep_seconds if self.keep_seconds > 0 else float("-inf")

    def prune(self) -> int:
        """Transcripts older than ``keep_seconds``, erased from the table and the files; how many entries."""
        self._pruned = time.time()
        try:
            with self._db:
                entries = [row[0] for row in self._db.execute(
                    "SELECT DISTINCT entry FROM transcripts WHERE created < ?", (self._since(),))]
                self._db.execute("DELETE FROM transcripts WHERE created < ?", (self._since(),))
                self._db.executemany("DELETE FROM owners WHERE entry = ? AND NOT EXISTS "
                                     "(SELECT 1 FROM transcripts WHERE transcripts.entry = owners.entry)",
                                     [(e,) for e in entries])
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise ProviderUnavailable(f"cache pruning failed: {exc}") from None
        return len(entries)

    def forget_owner(self, owner: str) -> int:
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                entries = [row[0] for row in self._db.execute("SELECT entry FROM owners WHERE owner = ?", (owner,))]
                self._db.execute("DELETE FROM owners WHERE owner = ?", (owner,))
                orphans = [e for e in entries
                           if not self._db.execute("SELECT 1 FROM owners WHERE entry = ?", (e,)).fetchone()]
                self._db.executemany("DELETE FROM transcripts WHERE entry = ?", [(e,) for e in orphans])
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the old pages leave the WAL file too
        except sqlite3.Error as exc:
            raise ProviderUnavailable(f"cache erasure failed: {exc}") from None
        return len(orphans)

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM transcripts WHERE key LIKE 'sha256:%'").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class RedisStore:
    """Shared between processes and machines; keys under ``transhades:transcript:``. An entry's keys are listed
    in ``...:keys:<entry>``, its owners in ``...:owners:<entry>``, and each owner's entries in ``...:owned:<owner>``."""

    PREFIX = "transhades:transcript:"

    def __init__(self, url: str, ttl_seconds: int | None = None) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._errors = (redis.RedisError,)
        self.ttl = ttl_seconds

    def get(self, keys: Iterable[str], owner: str | None = None) -> Transcript | None:
        keys = list(keys)
        if not keys:
            return None
        try:
            values = self._redis.mget([self.PREFIX + k for k in keys])
            for value in values:
                if value is not None:
                    data = json.loads(value)
                    entry = data.pop("_entry", None)
                    if owner is not None and entry is not None:
                        self._own(self._redis.pipeline(), entry, owner).execute()
                    return Transcript.from_dict(data)
        except self._errors as exc:
            raise ProviderUnavailable(f"redis cache lookup failed: {exc.__class__.__name__}") from None
        return None

    def _own(self, pipe: Any, entry: str, owner: str) -> Any:
        pipe.sadd(f"{self.PREFIX}owners:{entry}", owner)
        pipe.sadd(f"{self.PREFIX}owned:{owner}", entry)
        return pipe

    def put(self, keys: Iterable[str], transcript: Transcript, owner: str | None = None) -> None:
        keys = list(keys)
        entry = group_of(keys)
        body = json.dumps({**transcript.to_dict(), "_entry": entry}, ensure_ascii=False)
        try:
            with self._redis.pipeline() as pipe:
                for key in keys:
                    pipe.set(self.PREFIX + key, body, ex=self.ttl)
                pipe.sadd(f"{self.PREFIX}keys:{entry}", *keys)
                if owner is not None:
                    self._own(pipe, entry, owner)
                if self.ttl:  # the lists about an entry go with it
                    pipe.expire(f"{self.PREFIX}keys:{entry}", self.ttl)
                    pipe.expire(f"{self.PREFIX}owners:{entry}", self.ttl)
                pipe.execute()
        except self._errors as exc:
            raise ProviderUnavailable(f"redis cache store failed: {exc.__class__.__name__}") from None

    def forget_owner(self, owner: str) -> int:
        erased = 0
        try:
            owned = f"{self.PREFIX}owned:{owner}"
            for raw in self._redis.smembers(owned):
                entry = _text(raw)
                owners = f"{self.PREFIX}owners:{entry}"
                self._redis.srem(owners, owner)
                if self._redis.scard(owners) == 0:
                    listed = f"{self.PREFIX}keys:{entry}"
                    keys = [self.PREFIX + _text(k) for k in self._redis.smembers(listed)]
                    if self._redis.delete(*keys, listed, owners) and keys:  # an expired entry is not counted
                        erased += 1
            self._redis.delete(owned)
        except self._errors as exc:
            raise ProviderUnavailable(f"redis cache erasure failed: {exc.__class__.__name__}") from None
        return erased

    def count(self) -> int:
        try:
            return sum(1 for _ in self._redis.scan_iter(match=self.PREFIX + "sha256:*", count=1000))
        except self._errors:
            return -1

    def close(self) -> None:
        self._redis.close()


def open_store(cfg: CacheConfig, base: Path = Path(".")) -> TranscriptStore:
    """The configured store; transcripts live ``cache.keep_days`` (Redis expires them itself)."""
    keep = cfg.keep_days * 86400
    if cfg.backend == "memory":
        return MemoryStore(cfg.max_items, keep)
    if cfg.backend == "redis":
        return RedisStore(cfg.url or "redis://127.0.0.1:6379/0", int(keep) or None)
    path = Path(cfg.path)
    return SqliteStore(path if path.is_absolute() else base / path, keep)


def _expired(stored: float, keep_seconds: float) -> bool:
    return keep_seconds > 0 and time.time() - stored > keep_seconds


class CountingStore:
    """Hit and miss counts over any store, for /status and metrics."""

    def __init__(self, inner: TranscriptStore) -> None:
        self.inner = inner
        self.hits = 0
        self.misses = 0

    def get(self, keys: Iterable[str], owner: str | None = None) -> Transcript | None:
        found = self.inner.get(keys, owner)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, keys: Iterable[str], transcript: Transcript, owner: str | None = None) -> None:
        self.inner.put(keys, transcript, owner)

    def forget_owner(self, owner: str) -> int:
        return self.inner.forget_owner(owner)

    def count(self) -> int:
        return self.inner.count()

    def close(self) -> None:
        self.inner.close()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
