"""One small database connection for what must outlive a process (the journal, users' settings, Telegram
sessions): SQLite in a file by default, PostgreSQL (psycopg 3) when ``database_url`` is set, so a front that moves
machines or runs on an ephemeral disk loses nothing.

Statements are written once, in the SQL both understand: ``?`` placeholders (turned into ``%s`` for psycopg),
``INSERT ... ON CONFLICT``, and the types BIGINT (Telegram ids exceed 32 bits), DOUBLE PRECISION and TEXT.
One lock per connection: the actors that share one never interleave a transaction.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

from .errors import ProviderUnavailable
from .private import private_file

POSTGRES = ("postgres://", "postgresql://")


def is_postgres(target: str | Path | None) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES)


class Database:
    def __init__(self, target: str | Path) -> None:
        self.lock = threading.RLock()
        self.postgres = is_postgres(target)
        if self.postgres:
            import psycopg

            try:
                self._conn: Any = psycopg.connect(str(target), autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                raise ProviderUnavailable(f"cannot reach the database ({exc.__class__.__name__}); check "
                                          f"database_url or DATABASE_URL") from None
        else:
            if str(target) != ":memory:":
                private_file(Path(target))
            self._conn = sqlite3.connect(str(target), isolation_level=None, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # in WAL, a commit survives the process dying
            self._conn.execute("PRAGMA secure_delete=ON")  # a deleted row's bytes are overwritten, not left free

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """A statement; how many rows it changed."""
        with self.lock:
            cursor = self._conn.execute(self._sql(sql), tuple(params))
            return cursor.rowcount

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.lock:
            return list(self._conn.execute(self._sql(sql), tuple(params)).fetchall())

    def many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        if not params:
            return
        with self.lock:
            if self.postgres:
                with self._conn.cursor() as cursor:
                    cursor.executemany(self._sql(sql), [tuple(p) for p in params])
            else:
                self._conn.executemany(sql, params)

    def script(self, statements: Sequence[str]) -> None:
        for statement in statements:
            self.run(statement)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """All or nothing; holds the lock throughout."""
        with self.lock:
            if self.postgres:
                with self._conn.transaction():
                    yield self
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def scrub(self, tables: Sequence[str] = ()) -> None:
        """After an erasure, so that deleted rows leave the files too: SQLite has overwritten them already
        (``secure_delete``) and now empties its WAL file, which still holds the old pages; PostgreSQL vacuums the
        tables, so their dead rows are reclaimed (``VACUUM FULL`` by an operator rewrites them entirely)."""
        with self.lock:
            if self.postgres:
                for table in tables:
                    self._conn.execute(f"VACUUM {table}")
            else:
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[Database]:
        """Statements inside take at most ``seconds``; past that they stop with :class:`TooSlow`."""
        with self.lock:
            if self.postgres:
                import psycopg

                self._conn.execute(f"SET statement_timeout = {max(1, int(seconds * 1000))}")
                try:
                    yield self
                except psycopg.errors.QueryCanceled:
                    raise TooSlow(f"the query took longer than {seconds:g} s") from None
                finally:
                    self._conn.execute("SET statement_timeout = 0")
                return
            stop_at = time.monotonic() + seconds
            self._conn.set_progress_handler(lambda: int(time.monotonic() > stop_at), 10_000)
            try:
                yield self
            except sqlite3.OperationalError as exc:
                if "interrupted" not in str(exc):
                    raise
                raise TooSlow(f"the query took longer than {seconds:g} s") from None
            finally:
                self._conn.set_progress_handler(None, 0)

    def close(self) -> None:
        with self.lock:
            self._conn.close()


class TooSlow(Exception):
    """A statement ran past its deadline and was stopped (the database is fine; the question was too broad)."""
