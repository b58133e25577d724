"""Each part in its language: with several languages configured and none forced, the local model tells a
recording's speech regions apart by language (among the configured ones only) and decodes each in its own.

Indonesians mix Indonesian and English in one note; one language for the whole file turns the other's sentences
into nonsense in the wrong language. On a CPU Whisper's encoder is its dearest part, so each window is encoded once
where it can be:
1. the speech (voice-activity regions split at pauses of half a second) is packed into windows of up to 30 s and
   each window is encoded once;
2. each region's language is read from its own stretch of the window's encoder output (Whisper's language token
   from a slice of frames costs about 10 ms, not another encoding), and chosen among the configured languages; a
   region that leans English but not surely (its neighbours pull it) is encoded alone and judged again;
3. a window in one language is decoded from that same encoding (a note in one language costs no more than
   before); a window that mixes them is cut where the language changes: its first piece is heard from the
   window's encoding with the rest turned into the encoding of silence, the other pieces are encoded again;
4. a piece a decoding lost (less than half of it covered) is decoded again alone.
Tried and measured on the ``mixed`` benchmark's quick notes (one-language decoding = 1): decoding each mixed window
once per language from the one encoding, 1.7x (Whisper asked for the wrong language translates or loops); every
piece encoded again, 1.25-1.31x; the first piece from the window's encoding, 1.22x at the same error rate; every
piece so (silence before it too), 1.08x but the error rate rose from 0.27 to 0.35.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from math import ceil
from typing import Any

from transhades.providers.first_words import SAMPLE_RATE
from transhades.providers.languages import RELATED, pick_language

WINDOW_SECONDS = 30.0  # Whisper hears 30 s at a time
FRAMES_PER_SECOND = 50  # the encoder's output frames per second of audio
MAX_FRAMES = 1500  # the encoder's output frames of a window
_SILENCE: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()  # per model: see Encodings.silence
JUDGED_FROM_SECONDS = 2.5  # a shorter region is too short to judge alone: it takes a neighbour's language
PAUSE_MS = 500  # regions are split at pauses this long
WELL_HEARD = frozenset({"en"})  # languages Whisper names whenever it hears them
SURE = 0.5  # ... and then with at least this probability


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
    or unsure, takes the language of the judged neighbour across the shorter pause (the window's if none)."""
    chosen = [lang if r.end - r.start >= JUDGED_FROM_SECONDS else "" for r, lang in zip(regions, judged, strict=True)]
    out = []
    for n, region in enumerate(regions):
        language = chosen[n]
        if not language:
            before = next((k for k in range(n - 1, -1, -1) if chosen[k]), None)
            after = next((k for k in range(n + 1, len(chosen)) if chosen[k]), None)
            nearer = min((k for k in (before, after) if k is not None), default=None,
                         key=lambda k: region.start - regions[k].end if k < n else regions[k].start - region.end)
            language = chosen[nearer] if nearer is not None else window_language
        out.append(Region(region.start, region.end, language))
    return out


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

    def head(self, piece: Any, window: Any, seconds: float) -> None:
        """``piece`` (its features), the first ``seconds`` of ``window``, is heard from the window's encoding with
        what follows turned into the encoding of silence, not encoded again (its times are the window's own)."""
        import numpy

        if _key(piece) in self._outputs:  # encoded alone already (its language was contested): the real one
            return
        frames = min(MAX_FRAMES, ceil(seconds * FRAMES_PER_SECOND))
        masked = numpy.array(self.output(window))
        masked[frames:] = self.silence()[frames:]
        self._outputs[_key(piece)] = masked

    def silence(self) -> Any:
        """The encoder output of 30 s of silence (made once per model)."""
        import numpy

        if self._model not in _SILENCE:
            _SILENCE[self._model] = self.output(numpy.zeros((self._model.model.n_mels, MAX_FRAMES * 2),
                                                            dtype=numpy.float32))
        return _SILENCE[self._model]


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
    - a region Whisper hears as an allowed language (or a close relative of one) is in it; as English (a language
      it hears well) only when it is more sure of it than of all the rest together;
    - any other region is in one of the allowed languages it does not hear well, the likeliest. Whisper recognises
      English when it hears it (two thirds of its training), while the small model hears read-out Indonesian as
      Thai or Latin, giving English, not Indonesian, the larger share of the two; and the frames of an Indonesian
      sentence next to an English one in a window lean English (0.43 against Thai's 0.16, where alone Thai had
      0.47 and English 0.11)."""
    doubtful = tuple(code for code in allowed if code not in WELL_HEARD) or allowed
    out = []
    for each in probabilities:
        top = _top_allowed(each, allowed)
        if top in WELL_HEARD and doubtful != allowed and each.get(top, 0.0) < SURE:
            top = None
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
            self.heard.append([self._alone(region) if self._contested(p) else p
                               for region, p in zip(window.regions, region_probabilities(detect, output, window),
                                                    strict=True)])
        every = [p for window in self.heard for p in window]
        chosen = iter(languages_of(every, self.allowed, self.hint))
        whole = pick_language(summed(every), self.allowed, self.hint)
        self.judged = [Window(w.start, w.end, tuple(settled(list(w.regions), [next(chosen) for _ in w.regions],
                                                            whole)))
                       for w in self.windows[:len(self.heard)]]

    def _contested(self, probabilities: dict[str, float]) -> bool:
        """Whisper's likeliest is a language it hears well, but not surely: its neighbours in the window may have
        pulled it (an Indonesian sentence beside an English one leaned English, 0.43; an English one beside
        Indonesian ones, 0.44)."""
        top = _top_allowed(probabilities, self.allowed)
        return top in WELL_HEARD and len(self.allowed) > 1 and probabilities.get(top, 0.0) < SURE

    def _alone(self, region: Region) -> dict[str, float]:
        """Whisper's language probabilities for ``region`` encoded alone (one more encoding, reused when the region
        is decoded alone)."""
        import ctranslate2
        import numpy

        output = self.encodings.output(self.encodings.features(self.audio, Window(region.start, region.end,
                                                                                  (region,))))
        frames = ctranslate2.StorageView.from_array(numpy.ascontiguousarray(output[None]))
        return {token[2:-2]: float(p) for token, p in self.encodings.model.detect_language(frames)[0]}

    @property
    def language(self) -> str:
        """The language most of the speech judged so far is in."""
        seconds: dict[str, float] = {}
        for region in (r for w in self.judged for r in w.regions):
            seconds[region.language] = seconds.get(region.language, 0.0) + region.end - region.start
        return max(seconds, key=seconds.__getitem__) if seconds else ""

    def decodings(self) -> dict[str, list[Window]]:
        """``decodings`` of the judged windows; the first piece of a cut window is heard from the window's own
        encoding (``Encodings.head``)."""
        plan = decodings(self.judged)
        for window in self.judged:
            piece = next((w for pieces in plan.values() for w in pieces if w.start == window.start), window)
            if piece.end < window.end:
                self.encodings.head(self.encodings.features(self.audio, piece),
                                    self.encodings.features(self.audio, window), piece.end - window.start)
        return plan

    def uncovered(self, heard: list[tuple[float, float, str]]) -> dict[str, list[Window]]:
        return uncovered(self.judged, heard)


def decodings(windows: list[Window]) -> dict[str, list[Window]]:
    """For each language, the windows to decode in it: each window in one language as it is (its encoding is
    reused), each other cut where its regions' language changes."""
    out: dict[str, list[Window]] = {}
    for window in windows:
        runs: list[list[Region]] = []
        for region in window.regions:
            if runs and runs[-1][-1].language == region.language:
                runs[-1].append(region)
            else:
                runs.append([region])
        pieces = [window] if len(runs) == 1 else [Window(run[0].start, run[-1].end, tuple(run)) for run in runs]
        for piece in pieces:
            out.setdefault(piece.language, []).append(piece)
    return out


COVERED = 0.5  # a region less than half covered by segments in its language was lost by its window's decoding


def uncovered(windows: list[Window], heard: list[tuple[float, float, str]]) -> dict[str, list[Window]]:
    """The regions that the decoded segments (``heard``: start, end, language) leave mostly uncovered, as windows
    by language (neighbours in a window together), to be decoded again alone. A decoding can end early: asked for
    Indonesian over a window of English then Indonesian, Whisper wrote the English in Indonesian and stopped before
    the Indonesian began."""
    def covered(region: Region) -> float:
        return sum(max(0.0, min(end, region.end) - max(start, region.start))
                   for start, end, language in heard if language == region.language)

    out: dict[str, list[Window]] = {}
    for window in windows:
        runs: list[list[tuple[int, Region]]] = []
        for n, region in enumerate(window.regions):
            if covered(region) >= COVERED * (region.end - region.start):
                continue
            if runs and runs[-1][-1][0] == n - 1 and runs[-1][-1][1].language == region.language:
                runs[-1].append((n, region))
            else:
                runs.append([(n, region)])
        for run in runs:
            regions = tuple(region for _, region in run)
            out.setdefault(regions[0].language, []).append(Window(regions[0].start, regions[-1].end, regions))
    return out
