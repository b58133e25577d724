"""One actor per Telegram API credential: owns one MTProto session (its gateway) and downloads with it.

The session is persisted in ``session_dir``, so a restarted actor connects again without logging in. The first
credential also receives updates and hands them to the bot actor; the others run with ``no_updates``.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transhades.actors.base import ExitMonitor, WorkerActor
from transhades.audio.prepare import workdir
from transhades.messages import Download
from transhades.supervision.contracts import FaultInjector
from transhades.supervision.registry import Registry
from transhades.telegram.download import download
from transhades.telegram.gateway import Gateway


@dataclass(frozen=True)
class _DownloadCrashed:
    """A download thread hit a bug: the actor crashes with it, so supervision sees it."""

    error: BaseException


class CredentialActor(WorkerActor):
    def __init__(self, name: str, monitor: ExitMonitor, *, registry: Registry, gateways: Registry,
                 make_gateway: Callable[[], Gateway], temp_root: Path, max_bytes: int,
                 on_update: Callable[[Any], None] | None = None, parallel: int = 2,
                 faults: FaultInjector | None = None) -> None:
        super().__init__(name, monitor, registry, faults)
        self.gateways = gateways
        self.make_gateway = make_gateway
        self.temp_root = temp_root
        self.max_bytes = max_bytes
        self.on_update = on_update
        self.parallel = parallel
        self.gateway: Gateway | None = None
        self.pool: ThreadPoolExecutor | None = None

    def setup(self) -> None:
        gateway = self.make_gateway()
        if self.on_update is not None:
            gateway.on_update(self.on_update)
        gateway.start()
        self.gateway = gateway
        self.gateways.register(self.name, gateway)
        # several downloads at once per session; the client's loop multiplexes them
        self.pool = ThreadPoolExecutor(self.parallel, thread_name_prefix=f"{self.name}-download")

    def teardown(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
        if self.gateway is not None:
            self.gateways.unregister(self.name, self.gateway)
            self.gateway.stop()
            self.gateway = None

    def receive(self, message: Any) -> Any:
        if isinstance(message, _DownloadCrashed):
            raise message.error
        if not isinstance(message, Download):
            raise TypeError(f"credential actor got an unknown message {type(message).__name__}")
        assert self.pool is not None, "the pool starts in setup, before any message"
        self.pool.submit(self._download, message)

    def _download(self, message: Download) -> None:
        try:
            self._fetch(message)
        except Exception as error:
            try:
                self.actor_ref.tell(_DownloadCrashed(error))
            except Exception:
                pass  # the actor is already gone; its tasks are being placed again

    def _fetch(self, message: Download) -> None:
        gateway = self.gateway
        if gateway is None:
            return  # stopped meanwhile: the dispatcher places the task again
        progress = self.progress(message)
        target = workdir(self.temp_root, message.job_id) / "source"  # Telegram's file names never become paths
        self.answer(message, lambda: download(gateway, message.media, target, self.max_bytes, progress,
                                              message.part))
