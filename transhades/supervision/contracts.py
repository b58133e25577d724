"""What an actor is handed besides its registry, as protocols: the actors depend on these shapes, not on the
classes the tree happens to pass (a pykka ref, ``transhades simulate``'s fault injector)."""

from __future__ import annotations

from typing import Any, Protocol


class Mailbox(Protocol):
    """Something a message can be told to without waiting: a pykka ``ActorRef``, or a test's recorder."""

    def tell(self, message: Any) -> None: ...


class FaultInjector(Protocol):
    """Crashes an actor now and then while it handles a task (``transhades simulate``; None in production)."""

    def maybe_crash(self, actor: str) -> None: ...
