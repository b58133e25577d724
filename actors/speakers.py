"""The speakers actor: tells the speakers of a finished transcript apart (``transhades.speakers``). Its model is
loaded on the first transcript it gets, not at start, so a bot whose users never ask pays nothing for it."""

from __future__ import annotations

from typing import Any

from transhades.actors.base import ExitMonitor, WorkerActor
from transhades.messages import Diarize, Labelled
from transhades.speakers.align import labelled
from transhades.speakers.local import LocalDiarizer, load_audio
from transhades.supervision.contracts import FaultInjector
from transhades.supervision.registry import Registry
from transhades.transcript import Transcript


class SpeakersActor(WorkerActor):
    def __init__(self, name: str, monitor: ExitMonitor, *, registry: Registry, diarizer: LocalDiarizer,
                 faults: FaultInjector | None = None) -> None:
        super().__init__(name, monitor, registry, faults)
        self.diarizer = diarizer

    def teardown(self) -> None:
        self.diarizer.close()

    def receive(self, message: Any) -> Any:
        if not isinstance(message, Diarize):
            raise TypeError(f"speakers actor got an unknown message {type(message).__name__}")
        self.answer(message, lambda: self.diarize(message))

    def diarize(self, message: Diarize) -> Transcript | Labelled:
        """The transcript labelled; with ``voices`` asked, each of its speakers' voice beside it."""
        found = self.diarizer.diarize(load_audio(message.audio_path))
        order: dict[str, str] = {}
        transcript = labelled(message.transcript, found.turns, order)
        if not message.voices:
            return transcript
        return Labelled(transcript, tuple((order[str(k)], tuple(float(x) for x in vector))
                                          for k, vector in found.voices.items() if str(k) in order))
