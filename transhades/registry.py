"""Stable names for actors whose refs change when they are restarted (Erlang's registered names).

Actors address each other by name (``dispatcher``, ``cache``, ``provider:groq-1``) so that a reply sent after a
restart reaches the new incarnation. Telling a worker's name with no live actor drops the message and returns
False: the dispatcher places work it has not heard back about again, so a drop is never a loss. Messages for the
names in ``keep_for`` (the dispatcher, the bot) wait in the registry instead, in order, until that actor takes
them (a ``Doorbell`` tells it there is mail): a message told during a restart, or just as the actor crashes, is
read by the next incarnation, so a job submitted or an update received then is not lost.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any

import pykka

from .messages import Doorbell

log = logging.getLogger(__name__)


KEEP_AT_MOST = 100_000


class Registry:
    def __init__(self, keep_for: frozenset[str] = frozenset()) -> None:
        self._refs: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.keep_for = keep_for
        self._mail: dict[str, deque[Any]] = {name: deque() for name in keep_for}
        self._rung: dict[str, bool] = {}  # a doorbell is on its way, or the actor is reading its mail

    def register(self, name: str, ref: Any) -> None:
        with self._lock:
            self._refs[name] = ref
            ring = bool(self._mail.get(name))
            self._rung[name] = ring
        if ring:  # what waited for it (or what a crashed incarnation did not get to), first
            self._ring(name, ref)

    def unregister(self, name: str, ref: Any | None = None) -> None:
        """Forget ``name``; with ``ref``, only if it still points at that incarnation."""
        with self._lock:
            if ref is None or self._refs.get(name) is ref:
                self._refs.pop(name, None)

    def get(self, name: str) -> Any | None:
        with self._lock:
            return self._refs.get(name)

    def names(self) -> list[str]:
        with self._lock:
            return list(self._refs)

    def tell(self, name: str, message: Any) -> bool:
        if name in self.keep_for:
            return self._post(name, message)
        with self._lock:
            ref = self._refs.get(name)
        if ref is not None:
            try:
                ref.tell(message)
                return True
            except pykka.ActorDeadError:
                pass
        log.debug("dropped %s for %s: no live actor", type(message).__name__, name)
        return False

    # ------------------------------------------------------------------------ mail for the kept names

    def take(self, name: str) -> Any | None:
        """The next message for ``name``, oldest first, taken by the actor that reads it; None: no more (the
        next message rings the doorbell again)."""
        with self._lock:
            mail = self._mail.get(name)
            if not mail:
                self._rung[name] = False
                return None
            return mail.popleft()

    def waiting(self, name: str) -> int:
        with self._lock:
            return len(self._mail.get(name, ()))

    def _post(self, name: str, message: Any) -> bool:
        """Messages for the dispatcher and the bot wait here, not in the actor's own inbox, until it takes them:
        one told while it restarts, or just as it crashes, is read by the next incarnation, in order."""
        with self._lock:
            mail = self._mail[name]
            if len(mail) >= KEEP_AT_MOST:
                log.error("dropped %s for %s: %d messages already wait for it", type(message).__name__, name,
                          KEEP_AT_MOST)
                return False
            mail.append(message)
            ref = self._refs.get(name)
            ring = ref is not None and not self._rung.get(name)
            if ring:
                self._rung[name] = True
        if ring:
            self._ring(name, ref)
        return True

    def _ring(self, name: str, ref: Any) -> None:
        try:
            ref.tell(Doorbell())
        except pykka.ActorDeadError:  # it is gone: its next incarnation is rung when it registers
            with self._lock:
                if self._refs.get(name) is ref:
                    self._rung[name] = False
