"""The history actor: work over users' kept transcripts (/history, /search, /export, /stats, a transcript sent
again, /forget), done here so that the bot's intake never waits for it, and the periodic prune that enforces
``history.keep_days``. A shell over the plain :class:`~transhades.telegram.commands.Commands`; what it has to
say goes to the bot as ``Deliver`` (the bot's outbox paces every message)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from transhades.actors.base import ExitMonitor, SupervisedActor
from transhades.clock import Clock
from transhades.errors import TranshadesError
from transhades.messages import CacheReport, Deliver, ForgetOwner, HistoryWork, Prune
from transhades.supervision.registry import BOT, Registry
from transhades.telegram.commands import Commands
from transhades.telegram.erasure import ForgetAll

log = logging.getLogger("transhades.history")

HISTORY = "history"
CACHE = "cache"
PRUNE_SECONDS = 3600.0


class HistoryActor(SupervisedActor):
    def __init__(self, name: str, monitor: ExitMonitor, *, registry: Registry, commands: Commands, clock: Clock,
                 prune: Callable[[], Any], erase_cache: Callable[[str], int | None] | None = None) -> None:
        super().__init__(name, monitor)
        self.registry = registry
        self.commands = commands
        self.clock = clock
        self.prune = prune  # history and journal: what is older than they keep
        self.erase_cache = erase_cache  # where no cache actor runs here (a cluster's front): the store itself
        self.waiting = 0  # /forget answers waiting for the cache's part

    def setup(self) -> None:
        self.receive(Prune())  # at start, then every hour

    def receive(self, message: Any) -> Any:
        if isinstance(message, HistoryWork):
            for action in self.commands.do(message.work):
                if isinstance(action, ForgetAll):
                    self._erase_cache(action)
        elif isinstance(message, CacheReport) and isinstance(message.context, ForgetAll):
            done = message.context
            self.waiting = max(0, self.waiting - 1)
            self.commands.forgotten(done.with_cache(message.stats.get("erased")))
        elif isinstance(message, Prune):
            log.info("history: %s", self.prune())
            ref = self.actor_ref
            self.clock.call_later(PRUNE_SECONDS, lambda: _tell(ref, Prune()))
        else:
            raise TypeError(f"history actor got an unknown message {type(message).__name__}")
        self._deliver()
        return None

    def _erase_cache(self, done: ForgetAll) -> None:
        owner = str(done.user_id)
        if self.registry.tell(CACHE, ForgetOwner(owner, HISTORY, done)):
            self.waiting += 1  # answered with a CacheReport
            return
        try:
            erased = self.erase_cache(owner) if self.erase_cache is not None else None
        except TranshadesError as error:  # the user is told it is not finished, not "deleted"
            log.error("history: the cache's share of a /forget failed: %s", error)
            erased = None
        self.commands.forgotten(done.with_cache(erased))

    def pong(self) -> int:
        return self.waiting

    def _deliver(self) -> None:
        items = tuple(self.commands.outbox.queue)
        self.commands.outbox.queue.clear()
        if items:
            self.registry.tell(BOT, Deliver(items))


def _tell(ref: Any, message: Any) -> None:
    import pykka

    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        pass
