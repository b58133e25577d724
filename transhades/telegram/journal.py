"""The job journal: every accepted Telegram job, written before the user hears anything about it, with its state,
so that a restarted process finishes what a killed one had started and never answers a job twice.

States: ``accepted`` (written at intake; the job is to run), ``running`` (a stage has begun), ``replying`` (the
reply is written down, part by part, before any part goes out), ``done`` (every part is out). Each reply part
carries a ``random_id`` derived from the job and the part: Telegram refuses a second message with the same
random_id, so a part that went out just before the process died is not sent again when it is resent.

SQLite in WAL mode, one connection guarded by a lock: the bot actor writes, the update handler asks. A committed
row survives ``kill -9``. Rows are JSON, not pickles, so an upgrade can still read what an older version wrote.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from transhades.cluster.codec import dump_request, load_request
from transhades.messages import JobRequest
from transhades.sql import Database
from transhades.telegram.outbox import Outgoing
from transhades.telegram.route import Route

log = logging.getLogger("transhades.journal")

UNFINISHED = ("accepted", "running", "replying")
PRUNE_EVERY = 500  # accepted jobs between two prunes


def random_id(job_id: str, part: int) -> int:
    """A signed 64-bit id that is the same for the same part of the same job, in every process."""
    digest = hashlib.sha256(f"{job_id}\x00{part}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True) or 1


@dataclass
class Unfinished:
    """A job to take up again after a restart: run it, or send what is left of its reply."""

    request: JobRequest
    route: Any  # desk.Route
    state: str
    status_message: int | None = None
    parts: list[tuple[int, Outgoing]] = field(default_factory=list)  # (part, item) not sent yet


class Fenced(Exception):
    """A newer front holds the cluster's lease: this front's write was refused (``Journal.term``)."""


class Journal:
    def __init__(self, target: Path | str, keep_seconds: float = 86400.0,
                 wall: Callable[[], float] = time.time, term: Callable[[], int] | None = None) -> None:
        """``target``: a SQLite file, or a PostgreSQL URL (``database_url``). ``term``: a cluster front's lease term
        (``cluster/lease.py``); every write then checks, in its own transaction, that no newer front has claimed the
        journal (the ``fence`` row), and raises :class:`Fenced` if one has."""
        self.term = term
        self.keep_seconds = keep_seconds
        self.wall = wall
        self.accepted = 0
        self._db = Database(target)
        self._db.script([
            "CREATE TABLE IF NOT EXISTS jobs (job_id TEXT PRIMARY KEY, user_id BIGINT NOT NULL,"
            " chat_id BIGINT NOT NULL,"
            " state TEXT NOT NULL, request TEXT NOT NULL, route TEXT NOT NULL, status_message BIGINT,"
            " accepted_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,"
            " finished_at DOUBLE PRECISION)",
            "CREATE INDEX IF NOT EXISTS jobs_open ON jobs (state, finished_at)",
            "CREATE TABLE IF NOT EXISTS reply_parts (job_id TEXT NOT NULL, part INTEGER NOT NULL, item TEXT NOT NULL,"
            " sent_at DOUBLE PRECISION, PRIMARY KEY (job_id, part))",
            "CREATE TABLE IF NOT EXISTS fence (name TEXT PRIMARY KEY, term BIGINT NOT NULL)",
        ])

    def claim(self, term: int) -> None:
        """A front that took the lease claims the journal under its term: an older front's writes fail from now."""
        self._db.run("INSERT INTO fence (name, term) VALUES ('front', ?) ON CONFLICT (name) DO UPDATE SET term = "
                     "CASE WHEN excluded.term > fence.term THEN excluded.term ELSE fence.term END", (term,))

    @contextmanager
    def _guarded(self) -> Iterator[Database]:
        """The database for one write: in a cluster's front, inside a transaction that checks the fence first."""
        if self.term is None:
            yield self._db
            return
        with self._db.transaction() as db:
            self._fenced(db)
            yield db

    def _fenced(self, db: Database) -> None:
        """Raise :class:`Fenced` when a newer front has claimed the journal (inside the write's transaction; on
        PostgreSQL the fence row is locked for it, so a takeover waits until the write is done)."""
        if self.term is None:
            return
        rows = db.rows("SELECT term FROM fence WHERE name = 'front'" + (" FOR SHARE" if db.postgres else ""))
        if rows and int(rows[0][0]) > self.term():
            raise Fenced(f"front term {rows[0][0]} holds the journal; this front's is {self.term()}")

    # ------------------------------------------------------------------------------------------- writing

    def accept(self, request: JobRequest, route: Any) -> bool:
        """Write a new job down. False when it is already known (Telegram delivered the update again). Every
        ``PRUNE_EVERY`` jobs, finished ones older than ``keep_seconds`` are forgotten: a long-running process
        prunes as it goes."""
        now = self.wall()
        with self._guarded() as db:
            added = db.run(
                "INSERT INTO jobs (job_id, user_id, chat_id, state, request, route, accepted_at, updated_at)"
                " VALUES (?, ?, ?, 'accepted', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (request.id, route.user_id, route.chat_id, dump_request(request), json.dumps(asdict(route)), now,
                 now))
        if not added:
            return False
        self.accepted += 1
        if self.accepted % PRUNE_EVERY == 0:
            self.prune()
        return True

    def knows(self, job_id: str) -> bool:
        return bool(self._db.rows("SELECT 1 FROM jobs WHERE job_id = ?", (job_id,)))

    def running(self, job_id: str) -> None:
        self._set(job_id, "running", only_from=("accepted",))

    def status_message(self, job_id: str, message_id: int) -> None:
        with self._guarded() as db:
            db.run("UPDATE jobs SET status_message = ? WHERE job_id = ?", (message_id, job_id))

    def replying(self, job_id: str, items: list[Outgoing]) -> list[tuple[int, Outgoing]]:
        """Write the whole reply down before any of it is sent; gives each part its number and random_id."""
        parts = []
        for number, item in enumerate(items):
            if item.kind in ("text", "document"):
                item.random_id = random_id(job_id, number)
            parts.append((number, item))
        now = self.wall()
        with self._db.transaction() as db:
            self._fenced(db)
            db.many("INSERT INTO reply_parts (job_id, part, item) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    [(job_id, n, _dump_item(i)) for n, i in parts])
            db.run("UPDATE jobs SET state = 'replying', updated_at = ? WHERE job_id = ?", (now, job_id))
        return parts

    def part_sent(self, job_id: str, part: int) -> bool:
        """Mark one part as out; when it was the last, the job is done. True when the job is now done."""
        now = self.wall()
        with self._db.transaction() as db:
            self._fenced(db)
            # Telegram has it: the words are no longer ours to keep, only which message it was
            db.run("UPDATE reply_parts SET sent_at = ?, item = ? WHERE job_id = ? AND part = ? AND sent_at IS NULL",
                   (now, SENT, job_id, part))
            left = db.rows("SELECT COUNT(*) FROM reply_parts WHERE job_id = ? AND sent_at IS NULL", (job_id,))[0][0]
            if not left:
                db.run("UPDATE jobs SET state = 'done', updated_at = ?, finished_at = ? "
                       "WHERE job_id = ? AND state = 'replying'", (now, now, job_id))
        return not left  # the words' old copy in SQLite's WAL file goes with the hourly prune's scrub

    def _set(self, job_id: str, state: str, only_from: tuple[str, ...]) -> None:
        marks = ",".join("?" * len(only_from))
        with self._guarded() as db:
            db.run(f"UPDATE jobs SET state = ?, updated_at = ? WHERE job_id = ? AND state IN ({marks})",
                   (state, self.wall(), job_id, *only_from))

    # ------------------------------------------------------------------------------------------- reading

    def unfinished(self) -> list[Unfinished]:
        """Every job a previous process accepted and did not finish, oldest first."""
        with self._db.transaction() as db:
            rows = db.rows("SELECT job_id, state, request, route, status_message FROM jobs "
                           "WHERE state IN ('accepted', 'running', 'replying') ORDER BY accepted_at")
            parts = db.rows("SELECT job_id, part, item FROM reply_parts WHERE sent_at IS NULL ORDER BY job_id, part")
        left: dict[str, list[tuple[int, Outgoing]]] = {}
        for job_id, number, item in parts:
            left.setdefault(job_id, []).append((number, _load_item(item)))
        out = []
        for job_id, state, request, route, status_message in rows:
            try:
                out.append(Unfinished(load_request(request), Route(**json.loads(route)), state, status_message,
                                      left.get(job_id, [])))
            except (ValueError, TypeError, KeyError) as exc:  # written by a version that no longer matches
                log.error("journal: job %s cannot be read back (%s); it is left out", job_id, exc.__class__.__name__)
        return out

    def counts(self) -> dict[str, int]:
        return {state: count for state, count in self._db.rows("SELECT state, COUNT(*) FROM jobs GROUP BY state")}

    def forget(self, user_id: int) -> int:
        """Every finished job of this user, gone (a job still running finishes first: its reply is owed); how
        many."""
        with self._db.transaction() as db:
            done = [r[0] for r in db.rows("SELECT job_id FROM jobs WHERE user_id = ? AND state = 'done'", (user_id,))]
            db.many("DELETE FROM reply_parts WHERE job_id = ?", [(j,) for j in done])
            db.many("DELETE FROM jobs WHERE job_id = ?", [(j,) for j in done])
        if done:
            self._db.scrub(("jobs", "reply_parts"))
        return len(done)

    def prune(self) -> int:
        """Forget finished jobs older than ``keep_seconds``; their replies are long out."""
        cutoff = self.wall() - self.keep_seconds
        with self._db.transaction() as db:
            old = [r[0] for r in db.rows("SELECT job_id FROM jobs WHERE state = 'done' AND finished_at < ?",
                                         (cutoff,))]
            db.many("DELETE FROM reply_parts WHERE job_id = ?", [(j,) for j in old])
            db.many("DELETE FROM jobs WHERE job_id = ?", [(j,) for j in old])
        # delivered replies' words still sit in SQLite's WAL file (a checkpoint per reply would slow every job)
        self._db.scrub(("jobs", "reply_parts") if old else ())
        return len(old)

    def close(self) -> None:
        self._db.close()


# ---------------------------------------------------------------------------------------------------- rows


_ITEM_FIELDS = ("kind", "chat_id", "text", "reply_to", "message_id", "file_name", "random_id", "buttons")
SENT = '{"sent": true}'  # what stays of a reply part once Telegram confirmed it


def _dump_item(item: Outgoing) -> str:
    data = {name: getattr(item, name) for name in _ITEM_FIELDS}
    data["data"] = base64.b64encode(item.data).decode() if item.data is not None else None
    return json.dumps(data)


def _load_item(text: str) -> Outgoing:
    data = json.loads(text)
    raw = data.pop("data")
    return Outgoing(**data, data=base64.b64decode(raw) if raw is not None else None)
