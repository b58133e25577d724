"""A provider actor: one instance of one configured provider. The client (and a local model) is built once
per incarnation, in the actor's own thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transhades.actors.base import ExitMonitor, OwnsClient, WorkerActor
from transhades.messages import Transcribe
from transhades.providers import Provider
from transhades.supervision.contracts import FaultInjector
from transhades.supervision.registry import Registry
from transhades.vocabulary.correct import applied


class ProviderActor(OwnsClient, WorkerActor):
    def __init__(self, name: str, monitor: ExitMonitor, *, registry: Registry, build: Callable[[], Provider],
                 faults: FaultInjector | None = None) -> None:
        super().__init__(name, monitor, registry, faults)
        self.build = build

    def receive(self, message: Any) -> Any:
        if not isinstance(message, Transcribe):
            raise TypeError(f"provider actor got an unknown message {type(message).__name__}")
        progress = self.progress(message)
        extra: dict[str, Any] = {"model": message.model} if message.model else {}
        if message.languages or message.hint:
            extra.update(languages=message.languages, hint=message.hint)
        if message.task != "transcribe":
            extra["task"] = message.task  # only a local model is sent anything else
        if message.speakers:
            extra["speakers"] = True
        if message.vocabulary:
            extra["vocabulary"] = message.vocabulary  # only when there is one: a provider without it is asked as before
        # near misses of the vocabulary spelled as given, whatever the provider made of the request's
        self.answer(message, lambda: applied(self.client.transcribe(message.chunk, message.language, progress, **extra),
                                             message.vocabulary))
