"""The chat model behind /translate and /summary: any OpenAI-compatible chat-completions endpoint (Groq, Together,
OpenAI, a local server), configured as ``llm:``.

``POST {base_url}/chat/completions`` with the model, a system message saying what to do (the target language
named) and the transcript as the user message; the answer is ``choices[0].message.content``.

- A transcript longer than ``max_input_chars`` goes in pieces cut at sentence ends, one request each, in order;
  translations are joined in that order, and the summaries of several pieces are merged (in as many
  rounds as it takes them to fit one request).
- Failures are handled as the transcription providers' are (:mod:`transhades.providers.http`): 5xx, timeouts and
  refused connections are retried with backoff and jitter; a 429 (or a 503 that says how long) quarantines the model
  until the server's deadline (``Retry-After`` or ``x-ratelimit-reset-*``). A wait of up to ``max_wait_seconds`` is
  slept through and the piece asked again; a longer one fails at once saying when to try again, and so does every
  request before that deadline, without calling the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from transhades.errors import BadInput, ProviderUnavailable, RateLimited
from transhades.formats import split_text
from transhades.providers.http import HttpProvider, RetryPolicy
from transhades.providers.languages import name_of

TASKS = ("translate", "summary")
MODEL_PREFIX = "llm-"  # the model actors are llm-1 .. llm-N (``llm.instances``)
RATE_LIMIT_WAIT = 1.0  # a 429 that does not say how long
MAX_WAITS = 3  # waits slept through for one piece before giving up

TRANSLATE = ("You translate transcripts of speech. Translate the user's text into {language}. Keep its meaning, "
             "tone and paragraphs; answer with the translation only, without notes or quotation marks.")
SUMMARY = ("You summarize transcripts of speech. Write a short summary of the user's text in {language}: the main "
           "points as a few bullet points, then one line on what is asked or decided, if anything. Answer with the "
           "summary only.")
COMBINE = ("These are summaries of consecutive parts of one transcript. Merge them into one short summary in "
           "{language}: a few bullet points, then one line on what is asked or decided, if anything.")


class Quarantine:
    """Until when the model asked us to wait: shared by every model actor, and kept across their restarts."""

    def __init__(self) -> None:
        self.until = 0.0


class ChatModel(HttpProvider):
    def __init__(self, base_url: str, model: str, api_key: str | None, timeout: float = 120.0,
                 retry: RetryPolicy = RetryPolicy(), max_input_chars: int = 12_000, max_wait: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep, now: Callable[[], float] = time.monotonic,
                 quarantine: Quarantine | None = None) -> None:
        super().__init__("language model", base_url, timeout, retry, sleep)
        self.model = model
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.max_input_chars = max_input_chars
        self.max_wait = max_wait
        self.now = now
        self.quarantine = quarantine or Quarantine()

    def answer(self, task: str, text: str, language: str) -> str:
        """``task`` translate: ``text`` in ``language``; summary: a summary of it, written in ``language``."""
        if not text.strip():
            raise BadInput("there is no text to work on").because("no_text")
        if task == "translate":
            return self.translate(text, language)
        if task == "summary":
            return self.summarize(text, language)
        raise ValueError(f"unknown task {task!r}")

    def translate(self, text: str, language: str) -> str:
        instruction = TRANSLATE.format(language=name_of(language))
        return "\n\n".join(self.complete(instruction, piece) for piece in self.pieces(text))

    def summarize(self, text: str, language: str) -> str:
        named = name_of(language)
        parts = [self.complete(SUMMARY.format(language=named), piece) for piece in self.pieces(text)]
        while len(parts) > 1:  # merged in as few requests as fit, again while the summaries do not fit one
            joined = "\n\n".join(parts)
            merged = [self.complete(COMBINE.format(language=named), piece) for piece in self.pieces(joined)]
            if len(merged) > 1 and sum(map(len, merged)) >= len(joined):
                return "\n\n".join(merged)  # the model does not shorten them: stop rather than loop
            parts = merged
        return parts[0]

    def pieces(self, text: str) -> list[str]:
        return split_text(text, self.max_input_chars)

    def complete(self, instruction: str, text: str) -> str:
        """One request, waiting out a short rate limit (at most ``MAX_WAITS`` times)."""
        payload = {"model": self.model, "temperature": 0.2,
                   "messages": [{"role": "system", "content": instruction}, {"role": "user", "content": text}]}
        for _ in range(MAX_WAITS + 1):
            self._wait_for_deadline()
            try:
                body = self.post("/chat/completions", size=len(text.encode()),
                                 make=lambda: {"json": payload, "headers": self.headers})
            except (RateLimited, ProviderUnavailable) as error:
                wait = getattr(error, "retry_after", None)
                if wait is None:
                    raise
                self.quarantine.until = max(self.quarantine.until, self.now() + (wait or RATE_LIMIT_WAIT))
                continue
            return self._content(body)
        raise RateLimited(f"{self.name}: still rate limited after {MAX_WAITS} waits",
                          max(0.0, self.quarantine.until - self.now()))

    def _wait_for_deadline(self) -> None:
        wait = self.quarantine.until - self.now()
        if wait <= 0:
            return
        if wait > self.max_wait:
            raise RateLimited(f"{self.name}: rate limited for another {wait:.0f} s", wait)
        self.sleep(wait)

    def _content(self, body: Any) -> str:
        try:
            content = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ProviderUnavailable(f"{self.name}: answered without a message") from None
        if not isinstance(content, str) or not content.strip():
            raise ProviderUnavailable(f"{self.name}: answered with an empty message")
        return content.strip()


def build_model(cfg: Any, quarantine: Quarantine | None = None) -> ChatModel:
    """The client for ``config.llm``. Called inside the model actor's thread."""
    return ChatModel(cfg.base_url, cfg.model, cfg.api_key, cfg.timeout_seconds,
                     RetryPolicy(cfg.http_attempts, cfg.retry_min_seconds, cfg.retry_max_seconds),
                     cfg.max_input_chars, cfg.max_wait_seconds, quarantine=quarantine)
