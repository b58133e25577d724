"""What the dispatcher's brain asks the dispatcher actor to do: the only way ``JobFlow`` acts on the world."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transhades.messages import JobEvent


@dataclass(frozen=True, slots=True)
class Send:
    to: str
    message: Any


@dataclass(frozen=True, slots=True)
class Emit:
    listener: Callable[[JobEvent], None]
    event: JobEvent


@dataclass(frozen=True, slots=True)
class Quarantine:
    group: str
    seconds: float
    reason: str


@dataclass(frozen=True, slots=True)
class ReleaseJob:
    """The job ended: its temporary files can go."""

    job_id: str


@dataclass(frozen=True, slots=True)
class WakeUp:
    """Call ``tick`` after this long: work waits for a moment, not for an event (a paced credential)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Withdraw:
    """The job ended while these tasks were still being worked on (a /cancel, a failure elsewhere): their
    workers may stop (the local model does, between segments), so the next job need not wait behind them."""

    tickets: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Alert:
    """Something the operator must hear about (a rejected key); sent once per cause."""

    text: str


@dataclass(frozen=True, slots=True)
class Arrived:
    """A range of a large download is on disk (parts ``first`` to ``first + count - 1`` of a ``size``-byte file):
    the audio preparation reading the file while it downloads may go on."""

    job_id: str
    size: int
    first: int
    count: int


Effect = Send | Emit | Quarantine | ReleaseJob | Alert | WakeUp | Arrived | Withdraw
