"""Deepgram's pre-recorded API: raw audio bytes to ``{base_url}/listen``, header ``Authorization: Token KEY``.

The transcript is at ``results.channels[0].alternatives[0].transcript``; segments come from
``results.utterances`` (asked for with ``utterances=true``), else from the words; the detected language from
``results.channels[0].detected_language``; the duration from ``metadata.duration``. Models: nova-3, whisper.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transhades.errors import ProviderUnavailable
from transhades.media import AudioChunk
from transhades.providers.base import Progress
from transhades.providers.http import HttpProvider, RetryPolicy
from transhades.providers.languages import to_code
from transhades.transcript import Segment, Transcript, Word, numbered
from transhades.vocabulary.terms import merged

SEGMENT_GAP = 1.0  # seconds of silence between words that start a new segment when there are no utterances
SEGMENT_MAX = 15.0


class Deepgram(HttpProvider):
    def __init__(self, name: str, base_url: str, model: str, api_key: str | None, timeout: float = 120.0,
                 retry: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] | None = None) -> None:
        super().__init__(name, base_url, timeout, retry, **({"sleep": sleep} if sleep is not None else {}))
        self.model = model
        self.api_key = api_key

    def transcribe(self, chunk: AudioChunk, language: str | None, progress: Progress | None = None,
                   model: str | None = None, languages: tuple[str, ...] = (), hint: str | None = None,
                   speakers: bool = False, vocabulary: tuple[str, ...] = ()) -> Transcript:
        # detect_language=true detects among all the languages Deepgram knows; a single expected language
        # arrives here as ``language`` already (the dispatcher fixes it).
        chosen = model or self.model
        params: dict[str, Any] = {"model": chosen, "smart_format": "true", "punctuate": "true", "utterances": "true"}
        if vocabulary:  # Nova-3: keyterm, one parameter per term (phrases too); older models: keywords, single words
            params.update(vocabulary_params(chosen, vocabulary))
        if language:
            params["language"] = language
        else:
            params["detect_language"] = "true"
        if speakers:  # who said what: each utterance (and word) then carries its speaker
            params["diarize"] = "true"
        headers = {"Content-Type": chunk.content_type}
        if self.api_key:
            headers["Authorization"] = f"Token {self.api_key}"

        def make() -> dict[str, Any]:
            return {"params": params, "headers": headers, "data": open(chunk.path, "rb")}

        return self.parse(self.post("/listen", size=chunk.size, make=make, progress=progress), chunk)

    def parse(self, body: Any, chunk: AudioChunk) -> Transcript:
        try:
            channel = body["results"]["channels"][0]
            best = channel["alternatives"][0]
            text = str(best["transcript"])
        except (KeyError, IndexError, TypeError):
            raise ProviderUnavailable(f"{self.name}: answered without results.channels[0].alternatives[0]") from None
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        try:
            duration = float(metadata.get("duration") or chunk.duration)
        except (TypeError, ValueError):
            duration = chunk.duration
        segments = _utterances(body["results"].get("utterances")) or _from_words(best.get("words") or [])
        return Transcript(text.strip(), to_code(channel.get("detected_language")), duration, self.name,
                          numbered(segments))


def vocabulary_params(model: str, vocabulary: tuple[str, ...]) -> dict[str, list[str]]:
    """Deepgram's way to be told names and terms: Nova-3 takes ``keyterm`` (a phrase each); older models take
    ``keywords``, single words only, so a phrase is given word by word."""
    if model.startswith("nova-3"):
        return {"keyterm": list(vocabulary)}
    words = merged([w.strip(".,") for term in vocabulary for w in term.split()])
    return {"keywords": [w for w in words if w]}


def _utterances(raw: Any) -> tuple[Segment, ...]:
    out = []
    for u in raw or ():
        try:
            speaker = u.get("speaker")
            out.append(Segment(float(u["start"]), float(u["end"]), str(u["transcript"]).strip(),
                               _words(u.get("words") or ()), str(int(speaker) + 1) if speaker is not None else None))
        except (KeyError, TypeError, ValueError):
            continue
    return tuple(out)


def _from_words(words: list[dict]) -> tuple[Segment, ...]:
    segments: list[Segment] = []
    current: list[dict] = []

    def flush() -> None:
        if current:
            text = " ".join(str(w.get("punctuated_word") or w.get("word") or "") for w in current).strip()
            speaker = current[0].get("speaker")
            segments.append(Segment(float(current[0]["start"]), float(current[-1]["end"]), text, _words(current),
                                    str(int(speaker) + 1) if speaker is not None else None))
            current.clear()

    for word in words:
        if not isinstance(word, dict) or "start" not in word or "end" not in word:
            continue
        if current and (float(word["start"]) - float(current[-1]["end"]) > SEGMENT_GAP
                        or float(word["end"]) - float(current[0]["start"]) > SEGMENT_MAX
                        or word.get("speaker") != current[-1].get("speaker")):
            flush()
        current.append(word)
        if str(word.get("punctuated_word", "")).endswith((".", "?", "!")):
            flush()
    flush()
    return tuple(segments)


def _words(raw: Any) -> tuple[Word, ...]:
    """Deepgram's words (``punctuated_word`` when smart_format gave one) with their times and confidence."""
    out = []
    for w in raw:
        try:
            confidence = w.get("confidence")
            out.append(Word(str(w.get("punctuated_word") or w["word"]), float(w["start"]), float(w["end"]),
                            float(confidence) if confidence is not None else None))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return tuple(out)
