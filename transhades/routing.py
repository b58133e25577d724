"""Which Telegram credential downloads next, as a plain object the dispatcher's flow consults.

The most free download slots first, then the best success rate of the last five minutes (an old failure must not
idle a session for good), then the one used least recently, so sustained load spreads over every session and none
collects the flood risk. ``downloads_per_minute`` paces each session further.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any, Iterable

SUCCESS_WINDOW = 20  # recent downloads per credential that its success rate looks at ...
SUCCESS_SECONDS = 300.0  # ... within this time
PACING_SECONDS = 60.0  # downloads_per_minute counts the downloads started within this window


class CredentialRouter:
    def __init__(self, downloads_per_minute: int = 0) -> None:
        self.downloads_per_minute = downloads_per_minute  # per credential; 0: no pacing
        self.outcomes: dict[str, deque[tuple[float, bool]]] = {}  # credential -> recent (when, succeeded)
        self.starts: dict[str, deque[float]] = {}  # credential -> when its recent downloads started
        self.requests: dict[str, int] = {}  # credential -> downloads given
        self.downloaded: dict[str, int] = {}  # credential -> downloads finished
        self.last_used: dict[str, int] = {}  # credential -> order of its latest download
        self._use_seq = itertools.count(1)
        self.wake_at: float | None = None

    def split_paced(self, free: Iterable[Any], now: float) -> tuple[list[Any], list[Any]]:
        """(free members that may start a download now, free members paced out for the moment)."""
        ready, paced = [], []
        for member in free:
            (paced if self._paced(member.name, now) else ready).append(member)
        return ready, paced

    def choose(self, ready: list[Any], now: float) -> Any:
        """The best of the ready members, recorded as given a download."""
        best = min(ready, key=lambda m: (m.load - m.slots, -self.success_rate(m.name, now),
                                         self.last_used.get(m.name, 0), m.name))
        self.requests[best.name] = self.requests.get(best.name, 0) + 1
        self.last_used[best.name] = next(self._use_seq)
        if self.downloads_per_minute:
            self.starts.setdefault(best.name, deque()).append(now)
        return best

    def wake_after(self, paced: list[Any], now: float) -> float | None:
        """Seconds until the first paced member may start again; None when a wake-up is already due by then."""
        due = min(self.starts[m.name][0] for m in paced) + PACING_SECONDS
        if self.wake_at is not None and now < self.wake_at <= due:
            return None
        self.wake_at = due
        return max(0.0, due - now)

    def woken(self) -> None:
        self.wake_at = None

    def record(self, name: str | None, ok: bool, now: float) -> None:
        if name:
            self.outcomes.setdefault(name, deque(maxlen=SUCCESS_WINDOW)).append((now, ok))
            if ok:
                self.downloaded[name] = self.downloaded.get(name, 0) + 1

    def success_rate(self, name: str, now: float) -> float:
        since = now - SUCCESS_SECONDS
        recent = [ok for when, ok in self.outcomes.get(name, ()) if when >= since]
        return sum(recent) / len(recent) if recent else 1.0

    def status(self, now: float) -> dict[str, dict[str, Any]]:
        return {name: {"requests": count, "downloads": self.downloaded.get(name, 0),
                       "success_rate": self.success_rate(name, now)} for name, count in self.requests.items()}

    def _paced(self, name: str, now: float) -> bool:
        if not self.downloads_per_minute:
            return False
        starts = self.starts.get(name)
        while starts and starts[0] <= now - PACING_SECONDS:
            starts.popleft()
        return bool(starts) and len(starts) >= self.downloads_per_minute


class FlowMetrics:
    """Counters and the job-duration histogram behind /status and /metrics."""

    BOUNDS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, float("inf"))

    def __init__(self) -> None:
        self.counters = {"submitted": 0, "completed": 0, "failed": 0, "cache_hits": 0, "cache_misses": 0}
        self.duration_counts = [0] * len(self.BOUNDS)
        self.duration_sum = 0.0

    def count(self, name: str) -> None:
        self.counters[name] += 1

    def job_took(self, seconds: float) -> None:
        self.duration_sum += seconds
        for index, bound in enumerate(self.BOUNDS):
            if seconds <= bound:
                self.duration_counts[index] += 1  # Prometheus buckets are cumulative: every bound above too

    def durations(self) -> dict[str, Any]:
        return {"buckets": [("+Inf" if b == float("inf") else b, c) for b, c in zip(self.BOUNDS, self.duration_counts)],
                "sum": self.duration_sum}
