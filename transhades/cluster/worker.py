"""A worker process's side of the job stream: take jobs while there is room, hand each to the local dispatcher,
publish its events, and acknowledge its entry only together with its final event.

Two threads: the reader takes entries (at most ``capacity`` held at once, the dispatcher's own limit) and keeps
the held ones fresh well within the lease; the publisher sends events in the order the dispatcher emitted them.
A job whose entry arrives twice (a front that restarted published it again) runs once; both entries are
acknowledged with its result. On stop the reader takes nothing more, running jobs get ``drain_seconds``, and what
is still unfinished is handed back to the stream for another worker at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from transhades.cluster.bus import Entry, JobBus
from transhades.cluster.codec import final
from transhades.messages import JobEvent, JobRequest

log = logging.getLogger("transhades.cluster")
Submit = Callable[[JobRequest, Callable[[JobEvent], None]], Any]
RETRY_SECONDS = 1.0  # after Redis could not be reached


class Intake:
    def __init__(self, bus: JobBus, consumer: str, submit: Submit, capacity: int, lease_seconds: float) -> None:
        self.bus, self.consumer, self.submit = bus, consumer, submit
        self.capacity = capacity
        self.keep_every = max(0.05, lease_seconds / 3)
        self.entries: dict[str, list[Entry]] = {}  # job id -> the entries held for it (normally one)
        self.lock = threading.Lock()
        self.outgoing: queue.Queue[JobEvent | None] = queue.Queue()
        self.taking = threading.Event()
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._read, name="transhades-intake", daemon=True),
                        threading.Thread(target=self._publish, name="transhades-results", daemon=True)]

    def start(self) -> Intake:
        self.taking.set()
        for thread in self.threads:
            thread.start()
        return self

    def held(self) -> int:
        with self.lock:
            return len(self.entries)

    def stop(self, drain_seconds: float) -> int:
        """Take nothing more, let running jobs finish for ``drain_seconds``, hand back the rest; returns how many
        jobs were handed back."""
        self.taking.clear()
        deadline = time.monotonic() + drain_seconds
        while self.held() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.stopped.set()
        self.outgoing.put(None)
        for thread in self.threads:
            thread.join(timeout=5)
        with self.lock:
            left, self.entries = [e for held in self.entries.values() for e in held], {}
        for entry in left:
            try:
                self.bus.hand_back(entry)
            except Exception as exc:  # Redis is gone: the entry stays pending and is taken over after the lease
                log.warning("could not hand back job %s (%s); another worker takes it after the lease",
                            entry.request.id, exc.__class__.__name__)
        return len(left)

    # ------------------------------------------------------------------------------------------------ reader

    def _read(self) -> None:
        next_keep = time.monotonic() + self.keep_every
        while not self.stopped.is_set():
            try:
                if time.monotonic() >= next_keep:
                    next_keep = time.monotonic() + self.keep_every
                    self.bus.keep_alive(self.consumer, self._held_ids())
                room = self.capacity - self.held() if self.taking.is_set() else 0
                if room <= 0:
                    self.stopped.wait(0.05)
                    continue
                for entry in self.bus.take(self.consumer, room, block_ms=200):
                    self._accept(entry)
            except Exception as exc:
                log.warning("the job stream is unreachable (%s: %s); trying again", exc.__class__.__name__, exc)
                self.stopped.wait(RETRY_SECONDS)

    def _accept(self, entry: Entry) -> None:
        job_id = entry.request.id
        with self.lock:
            held = self.entries.setdefault(job_id, [])
            held.append(entry)
            first = len(held) == 1
        if first:
            log.info("job %s taken from the stream", job_id)
            self.submit(entry.request, self.outgoing.put)

    def _held_ids(self) -> list[str]:
        with self.lock:
            return [e.id for held in self.entries.values() for e in held]

    # ------------------------------------------------------------------------------------------------ publisher

    def _publish(self) -> None:
        while True:
            event = self.outgoing.get()
            if event is None:
                return
            while not self._send(event):
                if self.stopped.wait(RETRY_SECONDS):
                    return  # stopping: the entry stays pending and the job runs again elsewhere

    def _send(self, event: JobEvent) -> bool:
        try:
            if not final(event):
                self.bus.report(event)
                return True
            with self.lock:
                held = list(self.entries.get(event.job_id, []))
            if held:
                self.bus.finish([e.id for e in held], event)
                with self.lock:
                    self.entries.pop(event.job_id, None)
            return True
        except Exception as exc:
            log.warning("could not publish an event of job %s (%s); trying again", event.job_id,
                        exc.__class__.__name__)
            return False
