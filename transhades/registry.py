"""Stable names for actors whose refs change when they are restarted (Erlang's registered names).

Actors address each other by name (``dispatcher``, ``cache``, ``provider:groq-1``) so that a reply sent after a
restart reaches the new incarnation. Telling a name with no live actor drops the message and returns False:
the dispatcher re-sends work it has not heard back about, so a drop is never a loss.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka

log = logging.getLogger(__name__)


class Registry:
    def __init__(self) -> None:
        self._refs: dict[str, Any] = {}
        self._lock = threading.Lock()

    def register(self, name: str, ref: Any) -> None:
        with self._lock:
            self._refs[name] = ref

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
        ref = self.get(name)
        if ref is None:
            log.debug("dropped %s for %s: no live actor", type(message).__name__, name)
            return False
        try:
            ref.tell(message)
            return True
        except pykka.ActorDeadError:
            log.debug("dropped %s for %s: actor is dead", type(message).__name__, name)
            return False
