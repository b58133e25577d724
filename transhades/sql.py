"""One small database for what must outlive a process (the journal, users' settings, Telegram sessions): SQLite in
a file by default, PostgreSQL (psycopg 3) when ``database_url`` is set, so a front that moves machines or runs on an
ephemeral disk loses nothing.

Statements are written once, in the SQL both understand: ``?`` placeholders (turned into ``%s`` for psycopg),
``INSERT ... ON CONFLICT``, and the types BIGINT (Telegram ids exceed 32 bits), DOUBLE PRECISION and TEXT.

SQLite: one connection and one lock, so the actors that share it never interleave a transaction. PostgreSQL: a
small pool (psycopg_pool) whose connections are checked before use, so a server that restarts is reconnected to,
never left for ever behind a dead socket. A statement that meets the server gone is tried again until
``wait_seconds`` have passed (the pool reconnects meanwhile); only then does its caller see the error, and its actor
is restarted by the supervision policy. A transaction keeps one connection from begin to end (per thread) and is
not retried: its body has run once already.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from transhades.errors import ProviderUnavailable
from transhades.private import private_file
from transhades.redaction import redact_urls

log = logging.getLogger("transhades.sql")
POSTGRES = ("postgres://", "postgresql://")
WAIT_SECONDS = 30.0  # how long a statement waits for PostgreSQL to come back before its caller sees the error
CONNECT_SECONDS = 10.0
POOL_SIZE = 4  # per store; the actors that share one take turns
# The pool's own reconnection backs off exponentially (1, 2, 4 ... s) until it gives up; kept short, so that a
# statement waiting for the server starts a fresh attempt at once instead of sleeping through a long backoff
# after the server is back.
RECONNECT_SECONDS = 2.0
T = TypeVar("T")


def wait_for_the_database(seconds: float) -> None:
    """The process-wide wait for PostgreSQL (``supervision.database_wait_seconds``), for stores made from now on."""
    global WAIT_SECONDS
    WAIT_SECONDS = seconds


def is_postgres(target: str | Path | None) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES)


class Database:
    def __init__(self, target: str | Path, wait_seconds: float | None = None) -> None:
        self.lock = threading.RLock()
        self.postgres = is_postgres(target)
        self.wait_seconds = wait_seconds if wait_seconds is not None else WAIT_SECONDS
        self._held = threading.local()  # PostgreSQL: the connection a transaction or a deadline keeps on this thread
        if self.postgres:
            self._pool = open_pool(str(target))
        else:
            if str(target) != ":memory:":
                private_file(Path(target))
            self._conn = sqlite3.connect(str(target), isolation_level=None, check_same_thread=False, timeout=30)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")  # in WAL, a commit survives the process dying
            self._conn.execute("PRAGMA secure_delete=ON")  # a deleted row's bytes are overwritten, not left free

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def _do(self, work: Callable[[Any], T]) -> T:
        """``work(connection)``: SQLite's under the lock; PostgreSQL's kept one, or a pooled one, tried again while
        the server is away (up to ``wait_seconds``)."""
        if not self.postgres:
            with self.lock:
                return work(self._conn)
        held = getattr(self._held, "conn", None)
        if held is not None:
            return work(held)
        import psycopg

        give_up = time.monotonic() + self.wait_seconds
        pause, told = 0.1, False
        while True:
            try:
                with self._pooled(give_up) as conn:
                    return work(conn)
            except DatabaseUnavailable:
                raise
            except psycopg.OperationalError as exc:  # the connection broke under the statement
                if time.monotonic() + pause >= give_up:
                    raise DatabaseUnavailable(f"the database could not be reached for {self.wait_seconds:g} s "
                                              f"({exc.__class__.__name__})") from None
                if not told:
                    log.warning("the database is unreachable (%s); trying again", exc.__class__.__name__)
                    told = True
                time.sleep(pause)
                pause = min(2.0, pause * 2)

    @contextlib.contextmanager
    def _pooled(self, give_up: float) -> Iterator[Any]:
        """A pooled connection, asked for again every second until ``give_up``: each ask lets the pool start a
        fresh connection attempt (its own attempts stop after ``RECONNECT_SECONDS``)."""
        from psycopg_pool import PoolTimeout

        while True:
            try:
                conn = self._pool.getconn(timeout=min(1.0, max(0.1, give_up - time.monotonic())))
                break
            except PoolTimeout:
                if time.monotonic() >= give_up:
                    raise DatabaseUnavailable(f"the database could not be reached for {self.wait_seconds:g} s "
                                              f"(PoolTimeout)") from None
        try:
            yield conn
        finally:
            self._pool.putconn(conn)

    @contextlib.contextmanager
    def _kept(self) -> Iterator[Any]:
        """PostgreSQL: one pooled connection for this thread until the block ends (the same one when nested)."""
        held = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self._pooled(time.monotonic() + self.wait_seconds) as conn:
            self._held.conn = conn
            try:
                yield conn
            finally:
                self._held.conn = None

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """A statement; how many rows it changed."""
        return self._do(lambda conn: conn.execute(self._sql(sql), tuple(params)).rowcount)

    def add_column(self, table: str, column: str, kind: str) -> None:
        """A column a newer version added to a table an older one made (nothing when it is there)."""
        if self.postgres:
            self.run(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")
        elif column not in {row[1] for row in self.rows(f"PRAGMA table_info({table})")}:
            self.run(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._do(lambda conn: list(conn.execute(self._sql(sql), tuple(params)).fetchall()))

    def many(self, sql: str, params: Sequence[Sequence[Any]]) -> None:
        if not params:
            return

        def work(conn: Any) -> None:
            if self.postgres:
                with conn.cursor() as cursor:
                    cursor.executemany(self._sql(sql), [tuple(p) for p in params])
            else:
                conn.executemany(sql, params)

        self._do(work)

    def script(self, statements: Sequence[str]) -> None:
        for statement in statements:
            self.run(statement)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """All or nothing; SQLite holds the lock throughout, PostgreSQL one connection."""
        if self.postgres:
            with self._kept() as conn, conn.transaction():
                yield self
            return
        with self.lock:
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
        if self.postgres:
            for table in tables:
                self.run(f"VACUUM {table}")
            return
        with self.lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[Database]:
        """Statements inside take at most ``seconds``; past that they stop with :class:`TooSlow`."""
        if self.postgres:
            import psycopg

            with self._kept() as conn:
                conn.execute(f"SET statement_timeout = {max(1, int(seconds * 1000))}")
                try:
                    yield self
                except psycopg.errors.QueryCanceled:
                    raise TooSlow(f"the query took longer than {seconds:g} s") from None
                finally:
                    with contextlib.suppress(psycopg.Error):
                        conn.execute("SET statement_timeout = 0")
            return
        with self.lock:
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
        if self.postgres:
            self._pool.close()
            return
        with self.lock:
            self._conn.close()


def open_pool(url: str, timeout: float = CONNECT_SECONDS) -> Any:
    """A pool of checked connections to ``url``, open once the first connection is made (``DatabaseUnavailable``
    when none is within ``timeout``: the caller says which setting to fix)."""
    from psycopg_pool import ConnectionPool, PoolTimeout

    pool = ConnectionPool(url, min_size=1, max_size=POOL_SIZE, open=False, check=ConnectionPool.check_connection,
                          kwargs={"autocommit": True, "connect_timeout": 5}, reconnect_timeout=RECONNECT_SECONDS,
                          name="transhades")
    try:
        pool.open(wait=True, timeout=timeout)
    except PoolTimeout:
        pool.close()
        raise DatabaseUnavailable(f"cannot reach the database within {timeout:g} s; check database_url or "
                                  f"DATABASE_URL, and that the server is up") from None
    return pool


def reachable(url: str, timeout: float = CONNECT_SECONDS) -> str | None:
    """None when PostgreSQL at ``url`` answers; otherwise why not, in one line (the URL's password never shown)."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=max(1, int(timeout))).close()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return redact_urls(first)
    return None


class DatabaseUnavailable(ProviderUnavailable):
    """PostgreSQL could not be reached for longer than the wait allowed."""


class TooSlow(Exception):
    """A statement ran past its deadline and was stopped (the database is fine; the question was too broad)."""
