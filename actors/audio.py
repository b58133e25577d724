"""The audio actor: fingerprints media and prepares 16 kHz mono speech audio with ffmpeg."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transhades.actors.base import ExitMonitor, WorkerActor
from transhades.audio.arrivals import Arrivals
from transhades.audio.prepare import AudioPreparer
from transhades.messages import Fingerprint, PrepareAudio, SplitChunk
from transhades.supervision.contracts import FaultInjector
from transhades.supervision.registry import Registry


class AudioActor(WorkerActor):
    def __init__(self, name: str, monitor: ExitMonitor, *, registry: Registry, preparer: AudioPreparer,
                 faults: FaultInjector | None = None, arrivals: Arrivals | None = None) -> None:
        super().__init__(name, monitor, registry, faults)
        self.preparer = preparer
        self.arrivals = arrivals or Arrivals()

    def receive(self, message: Any) -> Any:
        if isinstance(message, Fingerprint):
            self.answer(message, lambda: self.preparer.fingerprint(Path(message.media.path)))
        elif isinstance(message, PrepareAudio):
            path = Path(message.media.path)
            source = self.arrivals.blocks(message.job_id, path) if message.follow else path
            self.answer(message, lambda: self.preparer.prepare(message.job_id, source, message.max_chunk_bytes))
        elif isinstance(message, SplitChunk):
            self.answer(message, lambda: self.preparer.split(message.chunk))
        else:
            raise TypeError(f"audio actor got an unknown message {type(message).__name__}")
