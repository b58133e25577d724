"""Erlang/OTP-style supervision, as data and plain decisions.

The policy is data (:class:`RestartPolicy`, :class:`ChildSpec`); :class:`ChildRecord` decides, for one child,
what a crash means at a given time. The supervisor actor in ``supervisor.py`` only carries these decisions out.

Semantics (one_for_one):
- only the child that exited is restarted; its siblings are untouched;
- restart type: ``permanent`` children are always restarted, ``transient`` ones only after a crash,
  ``temporary`` ones never;
- restart intensity: more than ``max_restarts`` restarts within ``within_seconds`` escalates: the child is
  marked failed and reported, or the whole tree stops, per ``escalation``;
- between restarts, exponential backoff with jitter; restarts that fall out of the window no longer count,
  so the backoff resets after a quiet period;
- quarantine until a deadline (FloodWait, rate limits) is not a crash: it costs no restart budget.
"""

from __future__ import annotations

import enum
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transhades.config import SupervisionConfig


class Restart(str, enum.Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class Escalation(str, enum.Enum):
    MARK_FAILED = "mark_failed"
    STOP_TREE = "stop_tree"


class ChildState(str, enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"  # crashed, waiting out its backoff
    QUARANTINED = "quarantined"  # running, but not to be given work before its deadline
    FAILED = "failed"  # escalated: no more restarts
    STOPPED = "stopped"  # exited normally and is not to be restarted


@dataclass(frozen=True)
class Backoff:
    min_seconds: float = 0.5
    max_seconds: float = 30.0
    jitter: float = 0.2

    def delay(self, restart_number: int, rng: random.Random) -> float:
        """Delay before the ``restart_number``-th restart in the current window (1 = first)."""
        # the doubling stops at 2**60: a child restarted thousands of times in a long window (max_restarts set high,
        # as chaos runs do) made 2**n too large for a float, and the supervisor itself crashed on it
        base = min(self.max_seconds, self.min_seconds * 2.0 ** min(60, max(0, restart_number - 1)))
        spread = base * self.jitter
        return max(0.0, min(self.max_seconds, base + rng.uniform(-spread, spread)))


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 5
    within_seconds: float = 60.0
    backoff: Backoff = Backoff()
    escalation: Escalation = Escalation.MARK_FAILED

    @classmethod
    def from_config(cls, cfg: SupervisionConfig) -> RestartPolicy:
        b = cfg.backoff
        return cls(cfg.max_restarts, cfg.within_seconds, Backoff(b.min_seconds, b.max_seconds, b.jitter),
                   Escalation(cfg.escalation))


@dataclass(frozen=True)
class ChildSpec:
    """How to start one child. ``start(monitor)`` returns a running actor ref; the child calls
    ``monitor.exited(...)`` when it stops, which is all it knows of being supervised."""

    name: str
    group: str
    start: Callable[[Any], Any]
    restart: Restart = Restart.PERMANENT
    shutdown_seconds: float = 5.0
    escalation: Escalation | None = None  # overrides the policy's, e.g. the dispatcher stops the tree


@dataclass(frozen=True)
class RestartAfter:
    delay: float
    restart_number: int


@dataclass(frozen=True)
class Escalate:
    how: Escalation
    restarts: int


@dataclass(frozen=True)
class LetRest:
    """Exit that needs no restart (normal exit of a transient child, any exit of a temporary one)."""


@dataclass
class ChildRecord:
    spec: ChildSpec
    policy: RestartPolicy
    state: ChildState = ChildState.STARTING
    generation: int = 0
    restarts: deque[float] = field(default_factory=deque)
    quarantined_until: float | None = None
    last_reason: str | None = None
    total_restarts: int = 0
    total_quarantines: int = 0

    def on_exit(self, now: float, crashed: bool, rng: random.Random) -> RestartAfter | Escalate | LetRest:
        """Decide what an exit at ``now`` means. Does not change state beyond the restart log."""
        if self.spec.restart is Restart.TEMPORARY or (self.spec.restart is Restart.TRANSIENT and not crashed):
            return LetRest()
        window_start = now - self.policy.within_seconds
        while self.restarts and self.restarts[0] <= window_start:
            self.restarts.popleft()
        if len(self.restarts) + 1 > self.policy.max_restarts:
            return Escalate(self.spec.escalation or self.policy.escalation, len(self.restarts))
        self.restarts.append(now)
        self.total_restarts += 1
        number = len(self.restarts)
        return RestartAfter(self.policy.backoff.delay(number, rng), number)

    def quarantine(self, until: float) -> bool:
        """Hold the child out of work until ``until``. Returns True when the deadline moved later."""
        if self.quarantined_until is not None and self.quarantined_until >= until:
            return False
        self.quarantined_until = until
        self.total_quarantines += 1
        return True

    def view(self) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "group": self.spec.group,
            "state": self.state.value,
            "restarts_in_window": len(self.restarts),
            "total_restarts": self.total_restarts,
            "total_quarantines": self.total_quarantines,
            "quarantined_until": self.quarantined_until,
            "reason": self.last_reason,
        }
