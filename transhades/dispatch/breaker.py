"""A circuit breaker per provider: repeated failures take it out of rotation for a break, then one trial
request decides whether it is back (closed) or out again (open, for twice as long, up to a cap).

A server that says how long to stay away (``Retry-After`` on a 503, a rate-limit reset) sets the break directly.
Rate limits themselves do not count as failures: they are quarantines, not faults.
"""

from __future__ import annotations

from dataclasses import dataclass

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class ProviderBreaker:
    failures_to_open: int = 3
    break_seconds: float = 30.0
    max_break_seconds: float = 600.0
    state: str = CLOSED
    failures: int = 0
    open_until: float = 0.0
    trial_in_flight: bool = False
    _current_break: float = 0.0

    def allows(self, now: float) -> bool:
        if self.state == OPEN and now >= self.open_until:
            self.state, self.trial_in_flight = HALF_OPEN, False
        if self.state == OPEN:
            return False
        if self.state == HALF_OPEN:
            return not self.trial_in_flight
        return True

    def sent(self) -> None:
        if self.state == HALF_OPEN:
            self.trial_in_flight = True

    def succeeded(self) -> None:
        self.state, self.failures, self.trial_in_flight, self._current_break = CLOSED, 0, False, 0.0

    def failed(self, now: float, retry_after: float | None = None) -> float | None:
        """Count a failure. Returns the break length in seconds when this failure opens the breaker."""
        self.failures += 1
        self.trial_in_flight = False
        if retry_after is not None and retry_after > 0:
            return self._open(now, retry_after)
        if self.state == HALF_OPEN:
            return self._open(now, min(self.max_break_seconds, max(self.break_seconds, self._current_break * 2)))
        if self.failures >= self.failures_to_open:
            return self._open(now, self.break_seconds)
        return None

    def _open(self, now: float, seconds: float) -> float:
        self.state, self.open_until, self._current_break = OPEN, now + seconds, seconds
        return seconds
