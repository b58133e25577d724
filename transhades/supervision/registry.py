"""Stable names for actors whose refs change when they are restarted (Erlang's registered names).

Actors address each other by name (``dispatcher``, ``cache``, ``provider:groq-1``) so that a reply sent after a
restart reaches the new incarnation. Telling a worker's name with no live actor drops the message and returns
False: the dispatcher places work it has not heard back about again, so a drop is never a loss. Messages for the
names in ``keep_for`` (the dispatcher, the bot) are instead kept while that actor is down and handed, in order,
to its next incarnation: a job submitted or an update received during a restart is not lost.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import pykka

log = logging.getLogger(__name__)


KEEP_AT_MOST = 100_000
BOT = "bot"  # the registered name of the Telegram bot's actor


class Withdrawn:
    """Tickets the dispatcher no longer waits for (their job was cancelled or ended), shared with the workers:
    a worker in the middle of one may stop at its next step instead of finishing work nobody will read. The
    latest ``keep`` are remembered; tickets are never reused."""

    def __init__(self, keep: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._order: deque[int] = deque()
        self._tickets: set[int] = set()
        self.keep = keep

    def add(self, tickets: Iterable[int]) -> None:
        with self._lock:
            for ticket in tickets:
                if ticket not in self._tickets:
                    self._tickets.add(ticket)
                    self._order.append(ticket)
            while len(self._order) > self.keep:
                self._tickets.discard(self._order.popleft())

    def __contains__(self, ticket: object) -> bool:
        return ticket in self._tickets  # a set lookup: safe to read while another thread adds


class Registry:
    def __init__(self, keep_for: frozenset[str] = frozenset()) -> None:
        self._refs: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.keep_for = keep_for
        self._kept: dict[str, list[Any]] = {}
        self.withdrawn = Withdrawn()  # tasks whose job ended: their workers may stop

    def register(self, name: str, ref: Any) -> None:
        with self._lock:
            self._refs[name] = ref
            kept = self._kept.pop(name, [])
            for index, message in enumerate(kept):  # first what waited for it, in order
                try:
                    ref.tell(message)
                except pykka.ActorDeadError:  # it died already, on one of these: the rest wait for the next one
                    self._kept[name] = kept[index:] + self._kept.get(name, [])
                    break

    def unregister(self, name: str, ref: Any | None = None) -> None:
        """Forget ``name``; with ``ref``, only if it still points at that incarnation."""
        with self._lock:
            if ref is None or self._refs.get(name) is ref:
                self._refs.pop(name, None)

    def retire(self, name: str, ref: Any, unhandled: Callable[[], list[Any]]) -> None:
        """A crashed incarnation leaves: from now on its messages are kept, and what it had queued and never
        handled (``unhandled`` empties its inbox) is first in line for the next one.

        Every ``tell`` puts under the same lock, so no message can reach the old inbox after it was emptied."""
        with self._lock:
            if self._refs.get(name) is ref:
                self._refs.pop(name)
            left = unhandled()
            if name in self.keep_for and left:
                self._kept[name] = left + self._kept.get(name, [])

    def kept(self) -> int:
        """How many messages wait for an actor that is restarting."""
        with self._lock:
            return sum(len(messages) for messages in self._kept.values())

    def get(self, name: str) -> Any | None:
        with self._lock:
            return self._refs.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._refs)

    def tell(self, name: str, message: Any) -> bool:
        with self._lock:
            ref = self._refs.get(name)
            if ref is not None:
                try:
                    ref.tell(message)
                    return True
                except pykka.ActorDeadError:
                    pass
            if name in self.keep_for:
                kept = self._kept.setdefault(name, [])
                if len(kept) < KEEP_AT_MOST:
                    kept.append(message)
                    return True
                log.error("dropped %s for %s: %d messages already wait for it", type(message).__name__, name,
                          KEEP_AT_MOST)
                return False
        log.debug("dropped %s for %s: no live actor", type(message).__name__, name)
        return False
