"""Time is injected: every deadline, backoff and timer goes through a :class:`Clock`.

``SystemClock`` is the real one (monotonic time and one timer thread). ``ManualClock`` is for tests and
simulations: time moves only when ``advance`` is called, and due timers fire in order in the caller's thread,
so quarantine, backoff and breaker tests run in milliseconds without sleeping.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds; only differences mean anything."""

    def wall(self) -> float:
        """Unix time matching ``now()``, for showing deadlines to people."""

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        """Run ``callback`` once, ``delay`` seconds from now, in a thread that is not the caller's."""


class _Entry:
    __slots__ = ("deadline", "seq", "callback", "cancelled")

    def __init__(self, deadline: float, seq: int, callback: Callable[[], object]) -> None:
        self.deadline = deadline
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: _Entry) -> bool:
        return (self.deadline, self.seq) < (other.deadline, other.seq)


class SystemClock:
    """Real time. One daemon thread serves every timer, so thousands of quarantines cost one thread."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        entry = _Entry(self.now() + max(0.0, delay), next(self._seq), callback)
        with self._cond:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="transhades-timers", daemon=True)
                self._thread.start()
            self._cond.notify()
        return entry

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0].deadline > self.now():
                    timeout = self._heap[0].deadline - self.now() if self._heap else None
                    self._cond.wait(timeout)
                entry = heapq.heappop(self._heap)
            if not entry.cancelled:
                try:
                    entry.callback()
                except Exception:  # a timer callback must never kill the timer thread
                    import logging

                    logging.getLogger(__name__).exception("timer callback failed")


class ManualClock:
    """Time that moves only when told to. Timer callbacks run inside ``advance``, in deadline order."""

    def __init__(self, start: float = 1000.0, wall_offset: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall_offset
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def call_later(self, delay: float, callback: Callable[[], object]) -> Timer:
        entry = _Entry(self._now + max(0.0, delay), next(self._seq), callback)
        with self._lock:
            heapq.heappush(self._heap, entry)
        return entry

    def pending(self) -> list[float]:
        """Deadlines of the timers not yet fired or cancelled, soonest first."""
        with self._lock:
            return sorted(e.deadline for e in self._heap if not e.cancelled)

    def advance(self, seconds: float) -> None:
        target = self._now + seconds
        while True:
            with self._lock:
                if not self._heap or self._heap[0].deadline > target:
                    break
                entry = heapq.heappop(self._heap)
            self._now = max(self._now, entry.deadline)
            if not entry.cancelled:
                entry.callback()
        self._now = target
