"""The fetcher actor: downloads the recording behind a link into the job's directory (``transhades.links``). A
download blocks this actor's thread, so there are ``links.workers`` of them and each holds one task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transhades.actors.base import ExitMonitor, WorkerActor
from transhades.audio.prepare import workdir
from transhades.links.fetch import LinkFetcher
from transhades.messages import FetchLink
from transhades.supervision.contracts import FaultInjector
from transhades.supervision.registry import Registry


class FetcherActor(WorkerActor):
    def __init__(self, name: str, monitor: ExitMonitor, *, registry: Registry, fetcher: LinkFetcher,
                 temp_root: Path, faults: FaultInjector | None = None) -> None:
        super().__init__(name, monitor, registry, faults)
        self.fetcher = fetcher
        self.temp_root = temp_root

    def receive(self, message: Any) -> Any:
        if not isinstance(message, FetchLink):
            raise TypeError(f"fetcher actor got an unknown message {type(message).__name__}")
        progress = self.progress(message)
        target = workdir(self.temp_root, message.job_id) / "source"  # a link's file name never becomes a path
        self.answer(message, lambda: self.fetcher.fetch(message.link.url, target, progress,
                                                        stop=lambda: message.ticket in self.registry.withdrawn))
