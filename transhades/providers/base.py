"""What every transcription provider client is: one method, audio chunk in, transcript out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from transhades.media import AudioChunk
from transhades.transcript import Transcript

# How far a task is (0..1); a provider that decodes as it goes also gives the text so far, for the user to read.
Progress = Callable[..., None]


class Provider(Protocol):
    name: str

    def transcribe(self, chunk: AudioChunk, language: str | None, progress: Progress | None = None, *,
                   languages: tuple[str, ...] = (), hint: str | None = None) -> Transcript:
        """``language`` None: detect, among ``languages`` when given (``hint`` preferred when unsure). Providers
        also take ``vocabulary`` (names and terms), passed only when a job has one."""
        ...

    def close(self) -> None:
        ...
