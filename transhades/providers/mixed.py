"""Each part in its language: with several languages configured and none forced, the local model tells a
recording's speech regions apart by language (among the configured ones only) and keeps each part as decoded in
its own.

Indonesians mix Indonesian and English in one note; one language for the whole file turns the other's sentences
into nonsense in the wrong language. The cost is kept near one decoding, since on a CPU Whisper's encoder costs
several times its decoder:
1. the speech (voice-activity regions split at pauses of half a second) is packed into windows of up to 30 s and
   each window is encoded once;
2. each region's language is read from its own stretch of the window's encoder output (Whisper's language token
   from a slice of frames costs about 10 ms, not another encoding), and chosen among the configured languages;
3. each window is decoded, from that same encoding, once per language its regions are in (with timestamps); each
   decoding keeps the segments that lie in its language's regions.
(Cutting a mixed window where the language changes and encoding the parts again was tried first: right, but
2.4 times one decoding's time on a note alternating Indonesian and English.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from typing import Any

from transhades.providers.first_words import SAMPLE_RATE
from transhades.providers.languages import RELATED, pick_language

WINDOW_SECONDS = 30.0  # Whisper hears 30 s at a time
FRAMES_PER_SECOND = 50  # the encoder's output frames per second of audio
JUDGED_FROM_SECONDS = 1.5  # a shorter region is too short to judge alone: it takes its neighbour's language
PAUSE_MS = 500  # regions are split at pauses this long
WELL_HEARD = frozenset({"en"})  # languages Whisper names whenever it hears them


@dataclass(frozen=True)
class Region:
    start: float
    end: float
    language: str = ""


@dataclass(frozen=True)
class Window:
    """A stretch of audio decoded at once (``start``..``end`` in seconds), its speech regions, and its language
    once every region in it has the same."""

    start: float
    end: float
    regions: tuple[Region, ...]

    @property
    def language(self) -> str:
        return self.regions[0].language if self.regions else ""

    def clip(self) -> dict[str, float]:
        return {"start": self.start, "end": self.end}


def speech_regions(audio: Any) -> list[Region]:
    """Where someone speaks, split at pauses (a speaker changes language between sentences, not inside a word)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(audio, VadOptions(max_speech_duration_s=WINDOW_SECONDS,
                                                    min_silence_duration_ms=PAUSE_MS))
    return [Region(r["start"] / SAMPLE_RATE, r["end"] / SAMPLE_RATE) for r in found]


def packed(regions: list[Region]) -> list[Window]:
    """Consecutive regions in windows of at most 30 s (from the first one's start to the last one's end)."""
    windows: list[list[Region]] = []
    for region in regions:
        if windows and region.end - windows[-1][0].start <= WINDOW_SECONDS:
            windows[-1].append(region)
        else:
            windows.append([region])
    return [Window(w[0].start, w[-1].end, tuple(w)) for w in windows]


def settled(regions: list[Region], judged: list[str], window_language: str) -> list[Region]:
    """The regions with their languages: ``judged`` as detected ('' where unsure); a region too short to judge,
    or unsure, takes the previous region's language (the next one's at the start, the window's if none)."""
    chosen = [lang if r.end - r.start >= JUDGED_FROM_SECONDS else "" for r, lang in zip(regions, judged, strict=True)]
    for n in range(len(chosen)):
        if not chosen[n]:
            before = next((chosen[k] for k in range(n - 1, -1, -1) if chosen[k]), "")
            after = next((chosen[k] for k in range(n + 1, len(chosen)) if chosen[k]), "")
            chosen[n] = before or after or window_language
    return [Region(r.start, r.end, lang) for r, lang in zip(regions, chosen, strict=True)]


def _key(features: Any) -> bytes:
    return hashlib.blake2b(features.tobytes(), digest_size=16).digest()


class Encodings:
    """The model as faster-whisper's batched pipeline sees it during a mixed-language decoding: each window's
    encoder output made once (the language pass's are reused by every decoding), and ``check`` asked around each
    encoding (it raises when the job was withdrawn)."""

    def __init__(self, model: Any, check: Callable[[], None] = lambda: None) -> None:
        self._model, self._check = model, check
        self._outputs: dict[bytes, Any] = {}
        self._kept: Any = None  # the array the last answer's StorageView reads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def checking(self, check: Callable[[], None]) -> Encodings:
        self._check = check
        return self

    def features(self, audio: Any, window: Window) -> Any:
        """The window's features exactly as the batched pipeline computes them for a clip."""
        from faster_whisper.audio import pad_or_trim

        piece = audio[int(window.start * SAMPLE_RATE):int(window.end * SAMPLE_RATE)]
        return pad_or_trim(self._model.feature_extractor(piece)[..., :-1])

    def encode(self, features: Any) -> Any:
        """Encoder output for a batch of windows' features, made only for those not encoded before."""
        import ctranslate2
        import numpy

        if features.ndim == 2:
            features = features[None]
        keys = [_key(row) for row in features]
        missing = [n for n, key in enumerate(keys) if key not in self._outputs]
        if missing:
            self._check()
            made = self._model.model.encode(ctranslate2.StorageView.from_array(
                numpy.ascontiguousarray(features[missing])), to_cpu=True)
            for n, row in zip(missing, numpy.array(made), strict=True):
                self._outputs[keys[n]] = row
            self._check()
        self._kept = numpy.ascontiguousarray(numpy.stack([self._outputs[key] for key in keys]))
        return ctranslate2.StorageView.from_array(self._kept)

    def output(self, features: Any) -> Any:
        """One window's encoder output (frames x dimensions), encoding it if needed."""
        self.encode(features[None])
        return self._outputs[_key(features)]


def region_probabilities(model: Any, output: Any, window: Window) -> list[dict[str, float]]:
    """Whisper's language probabilities for each region of ``window``, each from its own frames of the window's
    encoder output ``output`` (frames x dimensions)."""
    import ctranslate2
    import numpy

    found = []
    for region in window.regions:
        first = max(0, int((region.start - window.start) * FRAMES_PER_SECOND))
        last = min(len(output), max(first + 1, ceil((region.end - window.start) * FRAMES_PER_SECOND)))
        frames = ctranslate2.StorageView.from_array(numpy.ascontiguousarray(output[None, first:last]))
        found.append({token[2:-2]: float(p) for token, p in model.detect_language(frames)[0]})
    return found


def summed(probabilities: list[dict[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for each in probabilities:
        for code, p in each.items():
            out[code] = out.get(code, 0.0) + p
    return out


def languages_of(probabilities: list[dict[str, float]], allowed: tuple[str, ...], hint: str | None) -> list[str]:
    """Each region's language among ``allowed``, from Whisper's probabilities for it:
    - a region Whisper hears as an allowed language (or a close relative of one) is in it;
    - a region it hears as none of them is in one of the allowed languages it does not hear well, the likeliest:
      Whisper recognises English when it hears it (two thirds of its training), while the small model hears
      read-out Indonesian as Thai or Latin, and then gives English, not Indonesian, the larger share."""
    doubtful = tuple(code for code in allowed if code not in WELL_HEARD) or allowed
    out = []
    for each in probabilities:
        top = _top_allowed(each, allowed)
        out.append(top or pick_language(each, doubtful, hint if hint in doubtful else None))
    return out


def _top_allowed(probabilities: dict[str, float], allowed: tuple[str, ...]) -> str | None:
    """The allowed language whose family holds Whisper's likeliest language, if any."""
    if not probabilities:
        return None
    top = max(probabilities, key=probabilities.__getitem__)
    return next((code for code in allowed
                 if code == top or any(top in group and code in group for group in RELATED)), None)


class Parts:
    """One recording's windows and their languages, judged window by window (the first alone, so that a preview
    of the first words need not wait for the rest), then cut where the language changes for decoding."""

    def __init__(self, model: Any, audio: Any, allowed: tuple[str, ...], hint: str | None) -> None:
        self.encodings = Encodings(model)
        self.audio, self.allowed, self.hint = audio, allowed, hint
        self.windows = packed(speech_regions(audio))
        self.heard: list[list[dict[str, float]]] = []  # each judged window's regions' probabilities
        self.judged: list[Window] = []

    def judge(self, upto: int | None = None, check: Callable[[], None] = lambda: None) -> None:
        """The languages of the windows up to ``upto`` (all when None): each region's probabilities read once,
        the choices made again over all of them (see ``languages_of``)."""
        detect = self.encodings.model
        for window in self.windows[len(self.heard):upto]:
            check()
            output = self.encodings.output(self.encodings.features(self.audio, window))
            self.heard.append(region_probabilities(detect, output, window))
        every = [p for window in self.heard for p in window]
        chosen = iter(languages_of(every, self.allowed, self.hint))
        whole = pick_language(summed(every), self.allowed, self.hint)
        self.judged = [Window(w.start, w.end, tuple(settled(list(w.regions), [next(chosen) for _ in w.regions],
                                                            whole)))
                       for w in self.windows[:len(self.heard)]]

    @property
    def language(self) -> str:
        """The language most of the speech judged so far is in."""
        seconds: dict[str, float] = {}
        for region in (r for w in self.judged for r in w.regions):
            seconds[region.language] = seconds.get(region.language, 0.0) + region.end - region.start
        return max(seconds, key=seconds.__getitem__) if seconds else ""

    def decodings(self) -> dict[str, list[Window]]:
        """For each language, the windows to decode in it: those with a region in it."""
        out: dict[str, list[Window]] = {}
        for window in self.judged:
            for language in dict.fromkeys(r.language for r in window.regions):
                out.setdefault(language, []).append(window)
        return out

    def keeps(self, language: str, start: float, end: float) -> bool:
        return in_language(self.judged, language, start, end)


def in_language(windows: list[Window], language: str, start: float, end: float) -> bool:
    """Whether a segment (``start``..``end``) decoded in ``language`` lies in a region in it (the nearest region,
    where it falls between two)."""
    middle = (start + end) / 2
    regions = [r for w in windows for r in w.regions]
    nearest = min(regions, key=lambda r: 0.0 if r.start <= middle <= r.end else min(abs(r.start - middle),
                                                                                    abs(r.end - middle)))
    return nearest.language == language
