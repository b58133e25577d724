"""Stand-ins for the costly parts (ffmpeg, providers), so benchmarks and the chaos simulation measure the
orchestration itself; and the percentile both report."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transhades.media import AudioChunk, PreparedAudio
from transhades.transcript import Segment, Transcript


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[index]


class InstantPreparer:
    """Audio preparation that costs nothing: for benchmarks about orchestration, not ffmpeg."""

    def __init__(self, prepared: PreparedAudio | None = None) -> None:
        self.prepared = prepared

    def fingerprint(self, source: Path) -> str:
        return hashlib.sha256(str(source).encode() + (source.read_bytes()[:64] if source.exists() else b"")).hexdigest()

    def prepare(self, job_id: str, source: Any, max_chunk_bytes: int | None = None) -> PreparedAudio:
        if self.prepared is not None:
            return self.prepared
        chunk = AudioChunk(0, str(source), 0.0, 1.0, 100, "audio/ogg")
        return PreparedAudio(str(source), 1.0, 100, "audio/ogg", (chunk,))

    def split(self, chunk: AudioChunk, parts: int = 2) -> tuple[AudioChunk, ...]:
        return (chunk,)


def simulated_providers(seconds_per_audio_second: float = 0.0) -> Callable[[Any, Path], Any]:
    """Providers that answer at once, or after a time proportional to the audio they were sent."""

    def factory(cfg: Any, data_dir: Path) -> Any:
        class Simulated:
            name = cfg.name

            def transcribe(self, chunk: AudioChunk, language: Any, progress: Any = None, model: Any = None,
                           languages: Any = (), hint: Any = None, speakers: bool = False,
                           vocabulary: tuple[str, ...] = ()):
                if seconds_per_audio_second:
                    time.sleep(chunk.duration * seconds_per_audio_second)
                return Transcript("simulated", "en", chunk.duration, cfg.name,
                                  (Segment(0.0, chunk.duration, "simulated"),))

            def close(self) -> None:
                pass

        return Simulated()

    return factory
