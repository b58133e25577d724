"""The cache actor: owns one transcript store (its SQLite connection lives in this actor's thread)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from transhades.actors.base import ExitMonitor, WorkerActor
from transhades.cache.stores import CountingStore, TranscriptStore
from transhades.errors import TranshadesError
from transhades.messages import CacheReport, CacheStats, ForgetOwner, LookupTranscript, StoreTranscript
from transhades.supervision.contracts import FaultInjector
from transhades.supervision.registry import Registry

log = logging.getLogger(__name__)


class CacheActor(WorkerActor):
    def __init__(self, name: str, monitor: ExitMonitor, *, registry: Registry,
                 open_store: Callable[[], TranscriptStore], faults: FaultInjector | None = None) -> None:
        super().__init__(name, monitor, registry, faults)
        self.open_store = open_store
        self.store: CountingStore | None = None

    def setup(self) -> None:
        self.store = CountingStore(self.open_store())

    def teardown(self) -> None:
        if self.store:
            self.store.close()
            self.store = None

    def receive(self, message: Any) -> Any:
        store = self.store
        assert store is not None, "the store opens in setup, before any message"
        if isinstance(message, LookupTranscript):
            self.answer(message, lambda: store.get(message.keys, message.owner))
        elif isinstance(message, StoreTranscript):
            try:
                store.put(message.keys, message.transcript, message.owner)
            except TranshadesError as error:  # a failed store costs a future hit, nothing more
                log.warning("cache: %s", error)
        elif isinstance(message, ForgetOwner):
            try:
                erased: int | None = store.forget_owner(message.owner)
            except TranshadesError as error:  # told back as unknown: the user is not told "deleted"
                log.error("cache: %s", error)
                erased = None
            if message.reply_to:
                self.registry.tell(message.reply_to, CacheReport(message.context, {"erased": erased}))
            return erased
        elif isinstance(message, CacheStats):
            stats = {"items": store.count(), "hits": store.hits, "misses": store.misses}
            if message.reply_to:
                self.registry.tell(message.reply_to, CacheReport(message.context, stats))
            return stats
        else:
            raise TypeError(f"cache actor got an unknown message {type(message).__name__}")
