"""The cluster's job bus on Redis Streams: the front publishes jobs, workers take them in a consumer group and
publish each job's events back; nothing is acknowledged before its result is out.

- ``<prefix>:jobs``: one entry per job (the request as JSON), read by the consumer group ``workers``. A worker
  acknowledges (XACK) and deletes an entry only in the same transaction that publishes the job's final event.
  A worker that dies leaves its entries pending; live workers claim them (XAUTOCLAIM) once they have been idle
  for ``lease_seconds``, and a live worker keeps its own entries fresh (XCLAIM to itself) well within that time.
- ``<prefix>:results``: every event of every job (stage, waiting, completed, failed), read by the consumer group
  ``fronts``. The front acknowledges an event once the bot has it; a front that takes over claims what the one
  before left pending.
- ``<prefix>:dead``: a job entry delivered more than ``max_deliveries`` times (it kills every worker that takes
  it) goes here, and its user is told it failed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from ..errors import ProviderUnavailable
from ..messages import Failed, JobEvent, JobRequest
from .codec import dump_event, dump_request, load_event, load_request

log = logging.getLogger("transhades.cluster")

WORKERS = "workers"
FRONTS = "fronts"


@dataclass(frozen=True)
class Entry:
    """A job as a worker took it from the stream."""

    id: str
    request: JobRequest
    deliveries: int = 1


class JobBus:
    def __init__(self, client: Any, prefix: str = "transhades", lease_seconds: float = 15.0,
                 max_deliveries: int = 5) -> None:
        self.redis = client
        self.jobs, self.results, self.dead = f"{prefix}:jobs", f"{prefix}:results", f"{prefix}:dead"
        self.lease_ms = int(lease_seconds * 1000)
        self.max_deliveries = max_deliveries

    def ensure(self) -> JobBus:
        """Create the streams and their groups if they are not there yet (any process may be first)."""
        for stream, group in ((self.jobs, WORKERS), (self.results, FRONTS)):
            try:
                self.redis.xgroup_create(stream, group, id="0", mkstream=True)
            except Exception as exc:  # redis.ResponseError: BUSYGROUP, the group exists
                if "BUSYGROUP" not in str(exc):
                    raise
        return self

    # ------------------------------------------------------------------------------------------------ the front

    def publish(self, request: JobRequest) -> str:
        return _text(self.redis.xadd(self.jobs, {"job": dump_request(request)}))

    def left_over(self, consumer: str, count: int = 1000) -> list[tuple[str, JobEvent]]:
        """What an earlier front read and never acknowledged (it died); asked once, when a front takes over."""
        claimed = self._claim(self.results, FRONTS, consumer, 0, count)
        return [(entry_id, load_event(_text(fields[b"event"]))) for entry_id, fields in claimed]

    def events(self, consumer: str, count: int = 100, block_ms: int = 500) -> list[tuple[str, JobEvent]]:
        """The next new events for the front."""
        reply = self.redis.xreadgroup(FRONTS, consumer, {self.results: ">"}, count=count, block=block_ms)
        return [(_text(entry_id), load_event(_text(fields[b"event"])))
                for _, entries in reply or () for entry_id, fields in entries if fields]

    def done_with_event(self, entry_id: str) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(self.results, FRONTS, entry_id)
        pipe.xdel(self.results, entry_id)
        pipe.execute()

    # ------------------------------------------------------------------------------------------------ workers

    def take(self, consumer: str, count: int, block_ms: int = 500) -> list[Entry]:
        """Up to ``count`` jobs: first entries a dead worker left idle past the lease, then new ones. An entry
        delivered too often goes to the dead letters instead (its user is told)."""
        entries = [self._entry(entry_id, fields) for entry_id, fields in
                   self._claim(self.jobs, WORKERS, consumer, self.lease_ms, count)]
        if entries:
            counts = self._deliveries([e.id for e in entries])
            entries = [Entry(e.id, e.request, counts.get(e.id, 1)) for e in entries]
            fresh = [e for e in entries if e.deliveries <= self.max_deliveries]
            for entry in entries:
                if entry.deliveries > self.max_deliveries:
                    self.dead_letter(entry, f"delivered {entry.deliveries} times; every worker that took it stopped")
            if fresh:
                log.warning("took over %d job(s) a stopped worker left", len(fresh))
                return fresh
        reply = self.redis.xreadgroup(WORKERS, consumer, {self.jobs: ">"}, count=count, block=block_ms)
        return [self._entry(entry_id, fields) for _, got in reply or () for entry_id, fields in got if fields]

    def keep_alive(self, consumer: str, entry_ids: list[str]) -> None:
        """Reset the idle time of the entries this worker holds, so nobody takes them over while it works."""
        if entry_ids:
            self.redis.xclaim(self.jobs, WORKERS, consumer, 0, entry_ids, justid=True)

    def report(self, event: JobEvent) -> None:
        self.redis.xadd(self.results, {"event": dump_event(event)})

    def finish(self, entry_ids: list[str], event: JobEvent) -> None:
        """The job's final event out and its entries acknowledged, in one transaction: both or neither."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(self.results, {"event": dump_event(event)})
        pipe.xack(self.jobs, WORKERS, *entry_ids)
        pipe.xdel(self.jobs, *entry_ids)
        pipe.execute()

    def hand_back(self, entry: Entry) -> None:
        """A worker that stops gives an unfinished job back at once, for another worker to take now."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(self.jobs, {"job": dump_request(entry.request)})
        pipe.xack(self.jobs, WORKERS, entry.id)
        pipe.xdel(self.jobs, entry.id)
        pipe.execute()

    def dead_letter(self, entry: Entry, reason: str) -> None:
        log.error("job %s goes to the dead letters: %s", entry.request.id, reason)
        failed = Failed(entry.request.id, ProviderUnavailable(
            "internal error: this file stopped every worker that took it; the operator has been alerted"))
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(self.dead, {"job": dump_request(entry.request), "reason": reason, "at": str(time.time())})
        pipe.xadd(self.results, {"event": dump_event(failed)})
        pipe.xack(self.jobs, WORKERS, entry.id)
        pipe.xdel(self.jobs, entry.id)
        pipe.execute()

    # ------------------------------------------------------------------------------------------------ both

    def stats(self) -> dict[str, int]:
        return {"jobs_waiting": self._lag(self.jobs, WORKERS), "jobs_pending": self._pending(self.jobs, WORKERS),
                "results_pending": self._pending(self.results, FRONTS), "dead_letters": int(self.redis.xlen(self.dead))}

    def _entry(self, entry_id: Any, fields: dict) -> Entry:
        return Entry(_text(entry_id), load_request(_text(fields[b"job"])))

    def _claim(self, stream: str, group: str, consumer: str, min_idle_ms: int, count: int) -> list[tuple[str, dict]]:
        reply = self.redis.xautoclaim(stream, group, consumer, min_idle_ms, "0-0", count=count)
        return [(_text(entry_id), fields) for entry_id, fields in reply[1] if fields]

    def _deliveries(self, entry_ids: list[str]) -> dict[str, int]:
        counts = {}
        for entry_id in entry_ids:
            for row in self.redis.xpending_range(self.jobs, WORKERS, entry_id, entry_id, 1):
                counts[_text(row["message_id"])] = int(row["times_delivered"])
        return counts

    def _pending(self, stream: str, group: str) -> int:
        return int(self.redis.xpending(stream, group)["pending"])

    def _lag(self, stream: str, group: str) -> int:
        """Entries not delivered to any consumer yet."""
        for info in self.redis.xinfo_groups(stream):
            if _text(info["name"]) == group:
                lag = info.get("lag")
                return int(lag) if lag is not None else 0
        return 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
