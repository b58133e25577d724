"""The front's stand-in for the dispatcher: jobs go to the stream, and their events come back to each job's
listener (the bot), whichever worker ran them.

A final event for a job no listener waits for (a front that took over reads what its predecessor's jobs produced
before its bot has resumed them) is kept, and answers the job at once when the bot submits it again. A job the
bot submits again while its first submission is still out (a restarted bot) is not published twice.

A publish that fails (Redis away) takes nothing: the job waits in ``unsent``, in order, holding its user's slot
only once it is out, and goes when the event reader finds Redis back. A Redis that came back without its data
lost the entries of every job out: they are published again (a worker still running one runs it once).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from transhades.cluster.bus import JobBus
from transhades.cluster.codec import final
from transhades.errors import Cancelled
from transhades.messages import Failed, JobEvent, JobRequest, PublishAgain, Queued
from transhades.supervision.keeper import Keeper

log = logging.getLogger("transhades.cluster")
Listener = Callable[[JobEvent], None]
KEEP_ORPHANS = 10_000
CHECK_SECONDS = 2.0  # how often the reader asks the relay to publish what is unsent, and checks the epoch
RETRY_SECONDS = 0.5


class Relay(Keeper):
    """Also the cluster's one place of per-user admission: a user has at most ``per_user_limit`` jobs out on the
    workers at once, whichever workers run them; the rest wait here, in order, and the user is told."""

    def __init__(self, bus: JobBus, per_user_limit: int = 1_000_000) -> None:
        self.bus = bus
        self.per_user_limit = per_user_limit
        self.out: dict[str, set[str]] = {}  # user -> jobs published and not answered
        self.waiting: dict[str, deque[JobRequest]] = {}  # user -> jobs held back by the limit
        self.listeners: dict[str, Listener] = {}
        self.requests: dict[str, JobRequest] = {}  # job id -> the job, while it is out (to publish it again)
        self.unsent: OrderedDict[str, JobRequest] = OrderedDict()  # jobs whose publish failed, in order
        self.unacked: list[tuple[str, str | None]] = []  # events the bot has whose acknowledgement failed
        self.orphans: OrderedDict[str, JobEvent] = OrderedDict()  # job id -> its final event, nobody waiting yet
        self.counters = {"submitted": 0, "completed": 0, "failed": 0}
        self.roll: Any = None  # the cluster's processes (a Roll), for the status
        self.lease: Any = None  # the front's Lease: its term fences every publish (see cluster/lease.py)

    def submit(self, request: JobRequest, listener: Listener) -> None:
        if request.id in self.orphans:
            self._answer(listener, self.orphans.pop(request.id))
            return
        known = request.id in self.listeners
        self.listeners[request.id] = listener  # a restarted bot's listener replaces the old one
        if known:
            return
        self.counters["submitted"] += 1
        if len(self.out.get(request.user, ())) < self.per_user_limit:
            self._publish(request)
        else:
            queue = self.waiting.setdefault(request.user, deque())
            queue.append(request)
            listener(Queued(request.id, len(queue)))

    def _publish(self, request: JobRequest) -> None:
        try:
            if self.lease is not None:
                self.bus.publish(request, self.lease.term, self.lease.term_key)
            else:
                self.bus.publish(request)
        except Exception as exc:  # Redis away: nothing taken; it goes when Redis is back (publish_again)
            if request.id not in self.unsent:
                log.warning("could not publish job %s (%s); it goes when Redis is back", request.id,
                            exc.__class__.__name__)
            self.unsent[request.id] = request
            return
        self.unsent.pop(request.id, None)
        self.requests[request.id] = request
        self.out.setdefault(request.user, set()).add(request.id)

    def acknowledge(self, entry_id: str, job_id: str | None) -> None:
        """The bot has the event (the registry keeps it for a restart); after a final event (``job_id``) the job
        may be published again (a resumed job). Redis away: acknowledged when it is back."""
        try:
            self.bus.done_with_event(entry_id, job_id)
        except Exception as exc:
            log.warning("could not acknowledge event %s (%s); again when Redis is back", entry_id,
                        exc.__class__.__name__)
            self.unacked.append((entry_id, job_id))

    def publish_again(self, lost: bool = False) -> None:
        """What could not be published goes now; with ``lost``, every job out goes again too."""
        unacked, self.unacked = self.unacked, []
        for entry_id, job_id in unacked:
            self.acknowledge(entry_id, job_id)
        if lost:
            for job_id, request in list(self.requests.items()):
                self.unsent.setdefault(job_id, request)
            if self.requests:
                log.warning("Redis lost the cluster's data: publishing the %d job(s) still out again",
                            len(self.requests))
        for job_id, request in list(self.unsent.items()):
            if job_id not in self.listeners:
                self.unsent.pop(job_id)  # cancelled meanwhile
                continue
            self.out.get(request.user, set()).discard(job_id)
            self._publish(request)
            if job_id in self.unsent:
                return  # still away: the rest keep their order

    def _ended(self, job_id: str) -> None:
        """A job left (answered or cancelled): the user's next waiting job may go out."""
        self.requests.pop(job_id, None)
        self.unsent.pop(job_id, None)
        for user, jobs in list(self.out.items()):
            if job_id in jobs:
                jobs.discard(job_id)
                queue = self.waiting.get(user)
                while queue and len(jobs) < self.per_user_limit:
                    self._publish(queue.popleft())
                if not jobs and not queue:
                    self.out.pop(user, None)
                    self.waiting.pop(user, None)
                return
        for queue in self.waiting.values():  # cancelled while it waited
            for request in list(queue):
                if request.id == job_id:
                    queue.remove(request)

    def cancel(self, job_id: str) -> None:
        """The user is answered now; a worker may still finish the job, and its result goes nowhere."""
        listener = self.listeners.pop(job_id, None)
        if listener is not None:
            self._ended(job_id)
            self._answer(listener, Failed(job_id, Cancelled("the job was cancelled")))

    def event(self, event: JobEvent) -> None:
        listener = self.listeners.get(event.job_id)
        if final(event):
            self.listeners.pop(event.job_id, None)
            self._ended(event.job_id)
            if listener is None:
                self.orphans[event.job_id] = event
                while len(self.orphans) > KEEP_ORPHANS:
                    self.orphans.popitem(last=False)
                return
        if listener is not None:
            self._answer(listener, event)

    def _answer(self, listener: Listener, event: JobEvent) -> None:
        if final(event):
            self.counters["completed" if not isinstance(event, Failed) else "failed"] += 1
        listener(event)

    @property
    def active(self) -> int:
        return len(self.listeners)


class EventReader:
    """The front's thread that reads the results stream and tells each event to the relay actor by name (so an
    event read while the relay restarts waits for it). What an earlier front left unacknowledged comes first."""

    def __init__(self, bus: JobBus, consumer: str, deliver: Callable[[str, JobEvent], Any],
                 again: Callable[[PublishAgain], Any] = lambda message: None,
                 may_act: Callable[[], bool] = lambda: True) -> None:
        self.bus, self.consumer, self.deliver, self.again = bus, consumer, deliver, again
        self.may_act = may_act  # False while the front's lease is in doubt: no event is read (the next front's)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="transhades-events", daemon=True)

    def start(self) -> EventReader:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)

    def _run(self) -> None:
        first, failed, epoch, checked = True, False, None, 0.0
        while not self.stopped.is_set():
            if not self.may_act():
                self.stopped.wait(RETRY_SECONDS)
                continue
            try:
                if first:
                    epoch = self.bus.epoch()
                    left = self.bus.left_over(self.consumer)
                    if left:
                        log.info("taking up %d event(s) an earlier front did not finish", len(left))
                    for entry_id, event in left:
                        self.deliver(entry_id, event)
                    first = False
                if failed or time.monotonic() - checked > CHECK_SECONDS:
                    now = self.bus.epoch()
                    if now is None:
                        self.bus.ensure()
                        now = self.bus.epoch()
                    self.again(PublishAgain(lost=now != epoch))
                    epoch, failed, checked = now, False, time.monotonic()
                for entry_id, event in self.bus.events(self.consumer, block_ms=300):
                    self.deliver(entry_id, event)
            except Exception as exc:
                if not failed:
                    log.warning("the results stream is unreachable (%s: %s); trying again", exc.__class__.__name__,
                                exc)
                failed = True
                self.stopped.wait(RETRY_SECONDS)
