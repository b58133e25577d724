"""The dispatcher's view of the system at one moment, typed: what /status, /readyz and /metrics all read, so the
three never disagree about a number or about what "usable" means."""

from __future__ import annotations

from dataclasses import dataclass, field

CREDENTIAL = "credential:"
PROVIDER = "provider:"


@dataclass(frozen=True)
class MemberStatus:
    name: str
    group: str
    state: str  # starting | running | quarantined | restarting | failed | stopped
    load: int = 0
    quarantined_for: float | None = None  # seconds left, while a quarantine lasts
    reason: str | None = None
    usable: bool = False  # may take work now or once a slot frees (the roster's own rule, at snapshot time)

    @property
    def available(self) -> bool:
        """Counted as "available" by /status: running and not waiting out a quarantine."""
        return self.state == "running" and not self.quarantined_for


@dataclass(frozen=True)
class ProviderStatus:
    breaker: str  # closed | open | half_open
    failures: int = 0
    disabled: str | None = None  # why, when a rejected key took it out until restart


@dataclass(frozen=True)
class CredentialStats:
    requests: int = 0  # downloads given to it
    downloads: int = 0  # downloads it finished
    success_rate: float = 1.0  # over the last few minutes


@dataclass(frozen=True)
class Durations:
    buckets: tuple[tuple[str, int], ...] = ()  # Prometheus buckets: (upper bound, cumulative count)
    sum: float = 0.0


@dataclass(frozen=True)
class ProcessStatus:
    """One process of a cluster, as it last announced itself."""

    instance: str
    role: str  # front | worker
    state: str  # running | standby | stopping
    jobs: int = 0  # jobs it is working on
    capacity: int = 0  # jobs it may work on at once
    members: tuple[MemberStatus, ...] = ()  # its actors (credentials, providers, ...)
    seen_ago: float = 0.0  # seconds since its last announcement


@dataclass(frozen=True)
class StreamStats:
    jobs_waiting: int = 0  # published, not taken by any worker yet
    jobs_pending: int = 0  # taken, not finished
    results_pending: int = 0  # published by workers, not handled by the front yet
    dead_letters: int = 0
    oldest_job_seconds: float = 0.0  # how long the oldest job in the stream (waiting or taken) has been there


@dataclass(frozen=True)
class FlowStatus:
    active: int = 0  # jobs being worked on
    queued: int = 0  # jobs waiting for admission
    max_active: int = 0
    counters: dict[str, int] = field(default_factory=dict)  # submitted, completed, failed, cache_hits, cache_misses
    groups: dict[str, list[MemberStatus]] = field(default_factory=dict)
    providers: dict[str, ProviderStatus] = field(default_factory=dict)
    credentials: dict[str, CredentialStats] = field(default_factory=dict)
    durations: Durations = field(default_factory=Durations)
    processes: tuple[ProcessStatus, ...] = ()  # a cluster's processes (empty for a single process)
    streams: StreamStats | None = None  # a cluster's job streams

    def members(self, prefix: str) -> list[MemberStatus]:
        return [m for group, members in sorted(self.groups.items()) if group.startswith(prefix) for m in members]

    def any_usable(self, prefix: str) -> bool:
        """Some member of a group with this prefix can take work (a disabled provider cannot)."""
        return any(m.usable for m in self.members(prefix) if not self._disabled(m.group))

    def _disabled(self, group: str) -> bool:
        info = self.providers.get(group[len(PROVIDER):]) if group.startswith(PROVIDER) else None
        return bool(info and info.disabled)

    def count(self, name: str) -> int:
        return self.counters.get(name, 0)

    @property
    def cache_hit_rate(self) -> float | None:
        hits, misses = self.count("cache_hits"), self.count("cache_misses")
        return hits / (hits + misses) if hits + misses else None
