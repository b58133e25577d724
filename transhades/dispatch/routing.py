"""Where work goes, as plain objects the dispatcher's flow consults: which Telegram credential downloads next,
and which transcription provider takes a chunk.

The most free download slots first, then the best success rate of the last five minutes (an old failure must not
idle a session for good), then the one used least recently, so sustained load spreads over every session and none
collects the flood risk. ``downloads_per_minute`` paces each session further.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable
from typing import Any

from transhades.dispatch.tasks import PROVIDER_PREFIX
from transhades.snapshot import CredentialStats, Durations, ProviderStatus

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
        ready: list[Any] = []
        paced: list[Any] = []
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

    def status(self, now: float) -> dict[str, CredentialStats]:
        return {name: CredentialStats(count, self.downloaded.get(name, 0), self.success_rate(name, now))
                for name, count in self.requests.items()}

    def _paced(self, name: str, now: float) -> bool:
        if not self.downloads_per_minute:
            return False
        starts = self.starts.get(name)
        while starts and starts[0] <= now - PACING_SECONDS:
            starts.popleft()
        return starts is not None and len(starts) >= self.downloads_per_minute


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

    def durations(self) -> Durations:
        return Durations(tuple(("+Inf" if b == float("inf") else str(b), c)
                               for b, c in zip(self.BOUNDS, self.duration_counts, strict=True)), self.duration_sum)


def failover_order(providers: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """(name, kind) in config order -> the order chunks try them: config order, local models last (a remote
    provider is faster, and the local model is the one that always works)."""
    providers = list(providers)
    return tuple([n for n, k in providers if k != "local"] + [n for n, k in providers if k == "local"])


class ProviderRouter:
    """The transcription providers as routing sees them: the failover order (local models last), a circuit
    breaker each, and the ones disabled for a rejected key; and the choice among those free to take a chunk."""

    def __init__(self, providers: Iterable[tuple[str, str]], breakers: dict[str, Any] | None = None) -> None:
        from transhades.dispatch.breaker import ProviderBreaker

        providers = list(providers)
        self.order = failover_order(providers)
        self.local = {name for name, kind in providers if kind == "local"}
        self.breakers = {name: (breakers or {}).get(name) or ProviderBreaker() for name, _ in providers}
        self.disabled: dict[str, str] = {}  # provider group -> why (a rejected key), until restart

    def order_for(self, chosen: str | None, task: str = "transcribe") -> tuple[str, ...] | None:
        """The failover order for a job: the user's choice first. None when the choice is not configured. Whisper's
        translation into English only the local models do (empty when none is configured)."""
        if task == "translate":
            return tuple(p for p in self.order if p in self.local)
        if not chosen:
            return self.order
        if chosen not in self.order:
            return None
        return (chosen,) + tuple(p for p in self.order if p != chosen)

    def no_order(self, request: Any) -> str:
        """Why a job has no provider to go to."""
        if request.task == "translate":
            return "translating into English needs a local provider (kind: local) in config.yaml"
        return f"unknown provider {request.provider!r}; configured providers: {', '.join(self.order) or 'none'}"

    def breaker_of(self, group: str) -> Any:
        return self.breakers.get(group[len(PROVIDER_PREFIX):]) if group.startswith(PROVIDER_PREFIX) else None

    def blocked(self, group: str, now: float) -> bool:
        """Disabled, or its breaker lets nothing through now."""
        breaker = self.breaker_of(group)
        return group in self.disabled or (breaker is not None and not breaker.allows(now))

    def disable(self, group: str, why: str) -> bool:
        """True the first time (the operator is alerted once per cause)."""
        if group in self.disabled:
            return False
        self.disabled[group] = why
        return True

    def choose(self, chosen: str | None, candidates: list[tuple[str, Any]]) -> Any:
        """A user who chose a provider waits for it; otherwise work spreads to whichever remote provider is idle,
        in failover order (the chunks of one long file fan out), and the local one is the last resort."""
        if chosen:
            return candidates[0][1]
        remote = [c for c in candidates if c[0] not in self.local] or candidates
        idle = [member for _, member in remote if member.load == 0]
        if idle:
            return idle[0]
        return min(enumerate(remote), key=lambda item: (item[1][1].load, item[0]))[1][1]

    def status(self) -> dict[str, ProviderStatus]:
        return {name: ProviderStatus(b.state, b.failures, self.disabled.get(PROVIDER_PREFIX + name))
                for name, b in self.breakers.items()}
