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
  it), or any entry that cannot be decoded (a poison entry: its raw fields and the reason are kept), goes here and
  is acknowledged, so the good entries beside it go on; its user is told when the job is known. At most
  ``DEAD_LETTERS_KEPT`` are kept (approximate MAXLEN, oldest trimmed first).
- ``<prefix>:published:<job id>``: the front's mark that a job is out, so publishing is idempotent (a retried
  publish, or a restarted front's bot submitting it again, adds no second entry); gone once the front has the
  job's final event.
- ``<prefix>:epoch``: made with the groups; a Redis that restarted without its data has none, and the front then
  publishes again every job it still waits for (their entries were lost with it).

Any call that meets ``NOGROUP`` (Redis lost the groups) makes them again and is tried once more.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from transhades.cluster.codec import dump_event, dump_request, load_event, load_request
from transhades.errors import ProviderUnavailable
from transhades.messages import Failed, JobEvent, JobRequest

log = logging.getLogger("transhades.cluster")

WORKERS = "workers"
FRONTS = "fronts"
DEAD_LETTERS_KEPT = 10_000
PUBLISHED_SECONDS = 24 * 3600  # a job out longer than a day may be published once more
T = TypeVar("T")
_PUBLISH = """if ARGV[3] ~= '' and redis.call('get', KEYS[3]) ~= ARGV[3] then
  return redis.error_reply('FENCED a newer front holds the lease') end
if redis.call('set', KEYS[2], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('xadd', KEYS[1], '*', 'job', ARGV[1]) end
return false"""


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
        self.prefix = prefix
        self.epoch_key = f"{prefix}:epoch"
        self.lease_ms = int(lease_seconds * 1000)
        self.max_deliveries = max_deliveries
        self._publish = client.register_script(_PUBLISH)

    def ensure(self) -> JobBus:
        """Create the streams, their groups and the epoch if they are not there yet (any process may be first)."""
        for stream, group in ((self.jobs, WORKERS), (self.results, FRONTS)):
            try:
                self.redis.xgroup_create(stream, group, id="0", mkstream=True)
            except Exception as exc:  # redis.ResponseError: BUSYGROUP, the group exists
                if "BUSYGROUP" not in str(exc):
                    raise
        self.redis.set(self.epoch_key, uuid.uuid4().hex, nx=True)
        return self

    def epoch(self) -> str | None:
        value = self.redis.get(self.epoch_key)
        return _text(value) if value is not None else None

    def _grouped(self, call: Callable[[], T]) -> T:
        """``call()``, and once more after making the groups again when Redis has lost them (``NOGROUP``)."""
        try:
            return call()
        except Exception as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("the cluster's consumer groups were gone (Redis restarted without its data); made again")
            self.ensure()
            return call()

    # ------------------------------------------------------------------------------------------------ the front

    def publish(self, request: JobRequest, term: int = 0, term_key: str = "") -> str | None:
        """The job's entry id, or None when the job is out already (published before, not answered yet). With a
        ``term`` (the front's lease term, kept at ``term_key``), refused by Redis when a newer front holds the lease
        (a ``redis.exceptions.ResponseError`` starting FENCED), in the same script as the write."""
        added = self._publish(keys=[self.jobs, self._published(request.id), term_key or f"{self.prefix}:none"],
                              args=[dump_request(request), PUBLISHED_SECONDS, str(term) if term else ""])
        return _text(added) if added else None

    def _published(self, job_id: str) -> str:
        return f"{self.prefix}:published:{job_id}"

    def left_over(self, consumer: str, count: int = 1000) -> list[tuple[str, JobEvent]]:
        """What an earlier front read and never acknowledged (it died); asked once, when a front takes over."""
        claimed = self._grouped(lambda: self._claim(self.results, FRONTS, consumer, 0, count))
        return self._decoded_events(claimed)

    def events(self, consumer: str, count: int = 100, block_ms: int = 500) -> list[tuple[str, JobEvent]]:
        """The next new events for the front."""
        reply = self._grouped(lambda: self.redis.xreadgroup(FRONTS, consumer, {self.results: ">"}, count=count,
                                                            block=block_ms))
        return self._decoded_events([(_text(entry_id), fields) for _, entries in reply or ()
                                     for entry_id, fields in entries if fields])

    def _decoded_events(self, raw: list[tuple[str, dict]]) -> list[tuple[str, JobEvent]]:
        out = []
        for entry_id, fields in raw:
            try:
                out.append((entry_id, load_event(_text(fields[b"event"]))))
            except Exception as exc:  # a poison event: kept aside, acknowledged; the good ones go on
                self._poison(self.results, FRONTS, entry_id, fields, exc)
        return out

    def done_with_event(self, entry_id: str, job_id: str | None = None) -> None:
        """The bot has the event; after a job's final event, the job may be published again (a resumed job)."""
        def send() -> None:
            pipe = self.redis.pipeline(transaction=True)
            pipe.xack(self.results, FRONTS, entry_id)
            pipe.xdel(self.results, entry_id)
            if job_id is not None:
                pipe.delete(self._published(job_id))
            pipe.execute()

        self._grouped(send)

    # ------------------------------------------------------------------------------------------------ workers

    def take(self, consumer: str, count: int, block_ms: int = 500) -> list[Entry]:
        """Up to ``count`` jobs: first entries a dead worker left idle past the lease, then new ones. An entry
        delivered too often goes to the dead letters instead (its user is told)."""
        entries = self._entries(self._grouped(lambda: self._claim(self.jobs, WORKERS, consumer, self.lease_ms,
                                                                  count)))
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
        reply = self._grouped(lambda: self.redis.xreadgroup(WORKERS, consumer, {self.jobs: ">"}, count=count,
                                                            block=block_ms))
        return self._entries([(_text(entry_id), fields) for _, got in reply or () for entry_id, fields in got
                              if fields])

    def keep_alive(self, consumer: str, entry_ids: list[str]) -> None:
        """Reset the idle time of the entries this worker holds, so nobody takes them over while it works."""
        if entry_ids:
            self._grouped(lambda: self.redis.xclaim(self.jobs, WORKERS, consumer, 0, entry_ids, justid=True))

    def report(self, event: JobEvent) -> None:
        self.redis.xadd(self.results, {"event": dump_event(event)})

    def finish(self, entry_ids: list[str], event: JobEvent) -> None:
        """The job's final event out and its entries acknowledged, in one transaction: both or neither."""
        def send() -> None:
            pipe = self.redis.pipeline(transaction=True)
            pipe.xadd(self.results, {"event": dump_event(event)})
            pipe.xack(self.jobs, WORKERS, *entry_ids)
            pipe.xdel(self.jobs, *entry_ids)
            pipe.execute()

        self._grouped(send)

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
        pipe.xadd(self.dead, {"job": dump_request(entry.request), "reason": reason, "at": str(time.time())},
                  maxlen=DEAD_LETTERS_KEPT, approximate=True)
        pipe.xadd(self.results, {"event": dump_event(failed)})
        pipe.xack(self.jobs, WORKERS, entry.id)
        pipe.xdel(self.jobs, entry.id)
        pipe.execute()

    def _poison(self, stream: str, group: str, entry_id: str, fields: dict, exc: Exception) -> None:
        """An entry this version cannot decode: its raw fields and the reason to the dead letters, the entry
        acknowledged (it would fail on every read), and its user told when its job id can be read."""
        reason = f"cannot decode an entry of {stream} ({exc.__class__.__name__}: {exc})"
        log.error("entry %s goes to the dead letters: %s", entry_id, reason)
        raw = {_text(k): v for k, v in fields.items()}
        pipe = self.redis.pipeline(transaction=True)
        pipe.xadd(self.dead, {**raw, "stream": stream, "entry": entry_id, "reason": reason, "at": str(time.time())},
                  maxlen=DEAD_LETTERS_KEPT, approximate=True)
        job_id = _job_id(raw.get("job")) if stream == self.jobs else None
        if job_id is not None:
            failed = Failed(job_id, ProviderUnavailable(
                "internal error: this job could not be read by this version of the bot; please send the file again"
            ).because("job_unreadable"))
            pipe.xadd(self.results, {"event": dump_event(failed)})
        pipe.xack(stream, group, entry_id)
        pipe.xdel(stream, entry_id)
        pipe.execute()

    def tidy(self, live: set[str], idle_ms: int | None = None) -> int:
        """Delete the consumers of processes that are gone (not in ``live``, idle past ``idle_ms``, nothing
        pending: what they held was claimed by others first). Returns how many went."""
        idle_ms = idle_ms if idle_ms is not None else 4 * self.lease_ms
        gone = 0
        for stream, group in ((self.jobs, WORKERS), (self.results, FRONTS)):
            for consumer in self.redis.xinfo_consumers(stream, group):
                name = _text(consumer["name"])
                if name not in live and int(consumer["pending"]) == 0 and int(consumer["idle"]) > idle_ms:
                    self.redis.xgroup_delconsumer(stream, group, name)
                    gone += 1
        return gone

    # ------------------------------------------------------------------------------------------------ both

    def stats(self) -> dict[str, Any]:
        return {"jobs_waiting": self._lag(self.jobs, WORKERS), "jobs_pending": self._pending(self.jobs, WORKERS),
                "results_pending": self._pending(self.results, FRONTS), "dead_letters": int(self.redis.xlen(self.dead)),
                "oldest_job_seconds": self._oldest(self.jobs)}

    def _oldest(self, stream: str) -> float:
        """Age of the stream's first entry (an entry id starts with the milliseconds it was added at; finished
        jobs are deleted, so the first entry is the oldest job not finished)."""
        first = self.redis.xrange(stream, count=1)
        if not first:
            return 0.0
        added_ms = int(_text(first[0][0]).split("-")[0])
        now_s, now_us = self.redis.time()
        return max(0.0, now_s + now_us / 1e6 - added_ms / 1000)

    def _entries(self, raw: list[tuple[str, dict]]) -> list[Entry]:
        out = []
        for entry_id, fields in raw:
            try:
                out.append(Entry(entry_id, load_request(_text(fields[b"job"]))))
            except Exception as exc:  # a poison entry: kept aside, acknowledged; the good ones go on
                self._poison(self.jobs, WORKERS, entry_id, fields, exc)
        return out

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


def _job_id(raw: Any) -> str | None:
    try:
        data = json.loads(_text(raw))
    except (TypeError, ValueError):
        return None
    job_id = data.get("id") if isinstance(data, dict) else None
    return job_id if isinstance(job_id, str) else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
