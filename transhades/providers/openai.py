"""Any OpenAI-compatible transcription server: Groq, Together, OpenAI, self-hosted servers.

``POST {base_url}/audio/transcriptions`` as multipart with ``file``, ``model``, ``response_format`` and, when
fixed, ``language``. ``verbose_json`` gives segments with timestamps; a server that rejects it with a 400 is asked
again with ``json`` (and remembered), and a server that answers with only ``{"text": ...}`` is accepted.
Together transcribes in English unless told otherwise, so ``auto_language: auto`` is sent when detecting.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from transhades.errors import BadInput, ProviderUnavailable
from transhades.media import AudioChunk
from transhades.providers.base import Progress
from transhades.providers.http import HttpProvider, RetryPolicy
from transhades.providers.languages import to_code
from transhades.transcript import Segment, Transcript, Word, numbered, words_within
from transhades.vocabulary.terms import as_prompt


class OpenAICompatible(HttpProvider):
    def __init__(self, name: str, base_url: str, model: str, api_key: str | None, timeout: float = 120.0,
                 retry: RetryPolicy = RetryPolicy(), auto_language: str | None = None,
                 sleep: Callable[[float], None] | None = None, word_timestamps: bool = False) -> None:
        super().__init__(name, base_url, timeout, retry, **({"sleep": sleep} if sleep is not None else {}))
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.auto_language = auto_language
        self.verbose = True
        self.word_timestamps = word_timestamps  # timestamp_granularities[]=word as well

    def transcribe(self, chunk: AudioChunk, language: str | None, progress: Progress | None = None,
                   model: str | None = None, languages: tuple[str, ...] = (),
                   hint: str | None = None, speakers: bool = False, vocabulary: tuple[str, ...] = ()) -> Transcript:
        # ``speakers``: nothing to ask; a server that tells speakers apart answers segments with a ``speaker``
        # Whisper's API takes one language or none: with several expected, the server detects among all.
        # ``vocabulary``: the ``prompt`` (names and terms to spell as given; the API's prompt guides spelling)
        prompt = as_prompt(vocabulary) if vocabulary else None
        try:
            body = self._request(chunk, language, model, progress, prompt)
        except (BadInput, ProviderUnavailable) as error:
            if not self.verbose or "response_format" not in error.message and "verbose_json" not in error.message:
                raise
            self.verbose = False  # this server knows only json: ask again, and from now on
            body = self._request(chunk, language, model, progress, prompt)
        return self.parse(body, chunk)

    def _request(self, chunk: AudioChunk, language: str | None, model: str | None = None,
                 progress: Progress | None = None, prompt: str | None = None) -> Any:
        fields: list[tuple[str, str]] = [("model", model or self.model)]
        if self.verbose:
            fields += [("response_format", "verbose_json"), ("timestamp_granularities[]", "segment")]
            if self.word_timestamps:
                fields.append(("timestamp_granularities[]", "word"))
        else:
            fields.append(("response_format", "json"))
        if language or self.auto_language:
            fields.append(("language", language or self.auto_language or ""))
        if prompt:
            fields.append(("prompt", prompt))
        filename = Path(chunk.path).name

        def make() -> dict[str, Any]:
            return {"data": fields, "headers": self.headers,
                    "files": {"file": (filename, open(chunk.path, "rb"), chunk.content_type)}}

        return self.post("/audio/transcriptions", size=chunk.size, make=make, progress=progress)

    def parse(self, body: Any, chunk: AudioChunk) -> Transcript:
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise ProviderUnavailable(f"{self.name}: answered without a transcript text")
        everywhere = _words(body.get("words"))  # OpenAI and Groq: all words at the top, by time
        segments = []
        for raw in body.get("segments") or ():
            try:
                start, end = float(raw["start"]), float(raw["end"])
                words = _words(raw.get("words")) or words_within(everywhere, start, end)  # or within each segment
                speaker = raw.get("speaker")  # servers that tell speakers apart (e.g. "SPEAKER_00", 0)
                segments.append(Segment(start, end, str(raw["text"]).strip(), words,
                                        str(speaker) if speaker is not None and speaker != "" else None))
            except (KeyError, TypeError, ValueError):
                continue
        duration = body.get("duration")
        try:
            duration = float(duration) if duration is not None else chunk.duration
        except (TypeError, ValueError):
            duration = chunk.duration
        return Transcript(body["text"].strip(), to_code(body.get("language")), duration, self.name,
                          numbered(tuple(segments)))


def _words(raw: Any) -> tuple[Word, ...]:
    """``[{"word", "start", "end", "probability"?}]`` as words; what is unreadable is left out."""
    out = []
    for item in raw or ():
        try:
            probability = item.get("probability")
            out.append(Word(str(item["word"]).strip(), float(item["start"]), float(item["end"]),
                            float(probability) if probability is not None else None))
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return tuple(out)
