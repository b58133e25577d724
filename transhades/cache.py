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
from pathlib import Path
from typing import Iterable, Protocol

from .config import CacheConfig
from .errors import ProviderUnavailable
from .private import private_file
from .transcript import Transcript


class TranscriptStore(Protocol):
    def get(self, keys: Iterable[str]) -> Transcript | None: ...

    def put(self, keys: Iterable[str], transcript: Transcript) -> None: ...

    def count(self) -> int:
        """Transcripts held: one per distinct media (its ``sha256:`` key), however many aliases it has."""

    def close(self) -> None: ...


class MemoryStore:
    """Least-recently-used, bounded by ``max_items`` keys. Lost on restart."""

    def __init__(self, max_items: int = 10_000) -> None:
        self.max_items = max_items
        self._items: OrderedDict[str, Transcript] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, keys: Iterable[str]) -> Transcript | None:
        with self._lock:
            for key in keys:
                found = self._items.get(key)
                if found is not None:
                    self._items.move_to_end(key)
                    return found
        return None

    def put(self, keys: Iterable[str], transcript: Transcript) -> None:
        with self._lock:
            for key in keys:
                self._items[key] = transcript
                self._items.move_to_end(key)
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)

    def count(self) -> int:
        with self._lock:
            return sum(1 for key in self._items if key.startswith("sha256:"))

    def close(self) -> None:
        pass


class SqliteStore:
    """One row per key, JSON body; WAL so readers never wait for the writer. Survives restarts."""

    def __init__(self, path: Path) -> None:
        try:
            private_file(path)  # transcripts are users' data: 0600 in a 0700 folder, whatever the umask
            self._db = sqlite3.connect(str(path), timeout=10, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS transcripts (key TEXT PRIMARY KEY, body TEXT NOT NULL, "
                "created REAL NOT NULL)"
            )
        except (sqlite3.Error, OSError) as exc:
            raise ProviderUnavailable(f"cache database {path} cannot be opened: {exc}") from None

    def get(self, keys: Iterable[str]) -> Transcript | None:
        keys = list(keys)
        if not keys:
            return None
        marks = ",".join("?" * len(keys))
        try:
            rows = self._db.execute(f"SELECT key, body FROM transcripts WHERE key IN ({marks})", keys).fetchall()
        except sqlite3.Error as exc:
            raise ProviderUnavailable(f"cache lookup failed: {exc}") from None
        by_key = dict(rows)
        for key in keys:
            if key in by_key:
                return Transcript.from_dict(json.loads(by_key[key]))
        return None

    def put(self, keys: Iterable[str], transcript: Transcript) -> None:
        body = json.dumps(transcript.to_dict(), ensure_ascii=False)
        now = time.time()
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO transcripts (key, body, created) VALUES (?, ?, ?)",
                                     [(key, body, now) for key in keys])
        except sqlite3.Error as exc:
            raise ProviderUnavailable(f"cache store failed: {exc}") from None

    def count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM transcripts WHERE key LIKE 'sha256:%'").fetchone()[0])

    def close(self) -> None:
        self._db.close()


class RedisStore:
    """Shared between processes and machines; keys under ``transhades:transcript:``."""

    PREFIX = "transhades:transcript:"

    def __init__(self, url: str, ttl_seconds: int | None = None) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._errors = (redis.RedisError,)
        self.ttl = ttl_seconds

    def get(self, keys: Iterable[str]) -> Transcript | None:
        keys = list(keys)
        if not keys:
            return None
        try:
            values = self._redis.mget([self.PREFIX + k for k in keys])
        except self._errors as exc:
            raise ProviderUnavailable(f"redis cache lookup failed: {exc.__class__.__name__}") from None
        for value in values:
            if value is not None:
                return Transcript.from_dict(json.loads(value))
        return None

    def put(self, keys: Iterable[str], transcript: Transcript) -> None:
        body = json.dumps(transcript.to_dict(), ensure_ascii=False)
        try:
            with self._redis.pipeline() as pipe:
                for key in keys:
                    pipe.set(self.PREFIX + key, body, ex=self.ttl)
                pipe.execute()
        except self._errors as exc:
            raise ProviderUnavailable(f"redis cache store failed: {exc.__class__.__name__}") from None

    def count(self) -> int:
        try:
            return sum(1 for _ in self._redis.scan_iter(match=self.PREFIX + "sha256:*", count=1000))
        except self._errors:
            return -1

    def close(self) -> None:
        self._redis.close()


def open_store(cfg: CacheConfig, base: Path = Path(".")) -> TranscriptStore:
    if cfg.backend == "memory":
        return MemoryStore(cfg.max_items)
    if cfg.backend == "redis":
        return RedisStore(cfg.url or "redis://127.0.0.1:6379/0")
    path = Path(cfg.path)
    return SqliteStore(path if path.is_absolute() else base / path)


class CountingStore:
    """Hit and miss counts over any store, for /status and metrics."""

    def __init__(self, inner: TranscriptStore) -> None:
        self.inner = inner
        self.hits = 0
        self.misses = 0

    def get(self, keys: Iterable[str]) -> Transcript | None:
        found = self.inner.get(keys)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def put(self, keys: Iterable[str], transcript: Transcript) -> None:
        self.inner.put(keys, transcript)

    def count(self) -> int:
        return self.inner.count()

    def close(self) -> None:
        self.inner.close()
