"""What every remote provider client shares: one pooled session, timeouts, bounded retries for transient
failures, and turning HTTP answers into the typed errors the dispatcher acts on.

- 429, or 503 with a wait: :class:`RateLimited` / :class:`ProviderUnavailable` carrying the server's wait,
  from ``Retry-After`` (seconds or an HTTP date) or ``x-ratelimit-reset-*`` (Go durations such as ``2m59.56s``).
  Never retried here: the provider is quarantined and the job fails over at once.
- 5xx, refused connections, timeouts: retried with exponential backoff and jitter (tenacity), then
  :class:`ProviderUnavailable`.
- 401/403: :class:`ProviderRejectedKey`. 413: :class:`UploadTooLarge`. Other 4xx: :class:`BadInput` with the
  server's message.
Keys never reach a log line: requests are logged as provider, status, duration and bytes.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests
import tenacity

from transhades.errors import BadInput, ProviderRejectedKey, ProviderUnavailable, RateLimited, UploadTooLarge

log = logging.getLogger("transhades.providers")

POLL_SECONDS = 0.2  # how often a waiting request asks whether its job still wants it
_GO_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def parse_go_duration(text: str) -> float | None:
    """``2m59.56s`` -> 179.56; ``250ms`` -> 0.25; a bare number is seconds. None when unreadable."""
    text = text.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _GO_DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


def parse_retry_after(value: str, now: float | None = None) -> float | None:
    """``Retry-After`` as delay-seconds or an HTTP date."""
    value = value.strip()
    seconds = parse_go_duration(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def wait_from_headers(headers: Mapping[str, str]) -> float | None:
    """How long the server asks us to wait. ``Retry-After`` wins; otherwise the reset of every exhausted
    ``x-ratelimit-*`` budget (or of all of them, when the server does not say which is exhausted)."""
    lower = {k.lower(): v for k, v in headers.items()}
    if "retry-after" in lower:
        parsed = parse_retry_after(lower["retry-after"])
        if parsed is not None:
            return parsed
    resets: dict[str, float] = {}
    for key, value in lower.items():
        if key.startswith("x-ratelimit-reset-"):
            seconds = parse_go_duration(value)
            if seconds is not None:
                resets[key[len("x-ratelimit-reset-"):]] = seconds
    if not resets:
        return None
    exhausted = [s for name, s in resets.items() if lower.get(f"x-ratelimit-remaining-{name}", "").strip() == "0"]
    return max(exhausted or resets.values())


def error_message(response: requests.Response) -> str:
    """The server's own words: OpenAI-style ``{"error": {"message"}}``, Deepgram's ``err_msg``, or text."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return text[:200] or response.reason or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        if isinstance(err, str):
            return err[:300]
        for key in ("err_msg", "message", "detail"):
            if body.get(key):
                return str(body[key])[:300]
    return json.dumps(body)[:200]


class _Transient(Exception):
    """A failure worth retrying here (5xx without a wait, connection refused, timeout)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3  # the first try included
    min_seconds: float = 0.5
    max_seconds: float = 8.0


class HttpProvider:
    """Base for remote providers: ``post`` sends one request with retries and returns the parsed JSON."""

    def __init__(self, name: str, base_url: str, timeout: float, retry: RetryPolicy,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry
        self.sleep = sleep
        self.session = self._new_session()

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        self.session.close()

    def post(self, path: str, *, size: int, make: Callable[[], dict[str, Any]],
             progress: Callable[[float], None] | None = None) -> Any:
        """POST ``base_url + path``; ``make`` builds fresh keyword arguments (and opens the file) per try. While
        the server works, ``progress`` is called every fraction of a second: it raises when the job was withdrawn
        (/cancel), and the request is left to finish on its own while this provider takes the next one."""
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(max(1, self.retry.attempts)),
            wait=tenacity.wait_exponential(multiplier=self.retry.min_seconds, max=self.retry.max_seconds)
            + tenacity.wait_random(0, self.retry.min_seconds),  # jitter, so instances do not retry in step
            retry=tenacity.retry_if_exception_type(_Transient),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(self._once, path, size, make, progress)
        except _Transient as exc:
            raise ProviderUnavailable(f"{self.name}: {exc.message} (after {self.retry.attempts} tries)") from None

    def _once(self, path: str, size: int, make: Callable[[], dict[str, Any]],
              progress: Callable[[float], None] | None = None) -> Any:
        url = self.base_url + path
        started = time.monotonic()
        kwargs = make()
        try:
            response = self._send(url, kwargs, progress)
        except requests.Timeout:
            raise _Transient(f"no answer within {self.timeout:g} s") from None
        except requests.ConnectionError as exc:
            raise _Transient(f"cannot connect ({_reason(exc)})") from None
        finally:
            for value in kwargs.get("files", {}).values():
                if isinstance(value, tuple) and hasattr(value[1], "close"):
                    value[1].close()
            if hasattr(kwargs.get("data"), "close"):
                kwargs["data"].close()
        elapsed = time.monotonic() - started
        log.info("provider=%s status=%s duration_ms=%.0f bytes=%d", self.name, response.status_code,
                 elapsed * 1000, size)
        return self._judge(response)

    def _send(self, url: str, kwargs: dict[str, Any], progress: Callable[[float], None] | None) -> Any:
        timeout = (min(10.0, self.timeout), self.timeout)
        if progress is None:
            return self.session.post(url, timeout=timeout, **kwargs)
        done: list[Any] = []
        session = self.session

        def send() -> None:
            try:
                done.append(session.post(url, timeout=timeout, **kwargs))
            except BaseException as exc:  # handed to the caller below
                done.append(exc)

        sender = threading.Thread(target=send, name=f"{self.name}-request", daemon=True)
        sender.start()
        while sender.is_alive():
            sender.join(POLL_SECONDS)
            if sender.is_alive():
                try:
                    progress(0.0)  # raises when the job was withdrawn
                except BaseException:
                    self.session = self._new_session()  # the abandoned request keeps the old one until it ends
                    raise
        if isinstance(done[0], BaseException):
            raise done[0]
        return done[0]

    def _judge(self, response: requests.Response) -> Any:
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json()
            except ValueError:
                raise ProviderUnavailable(f"{self.name}: answered {status} with a body that is not JSON") from None
        message = error_message(response)
        wait = wait_from_headers(response.headers)
        if status == 429:
            raise RateLimited(f"{self.name}: rate limited ({message})", wait if wait is not None else 0.0)
        if status in (401, 403):
            raise ProviderRejectedKey(f"{self.name}: the API key was rejected ({status}: {message})")
        if status == 413:
            raise UploadTooLarge(f"{self.name}: upload too large ({message})")
        if status >= 500:
            if wait is not None:  # overloaded and says for how long: quarantine, do not hammer it
                raise ProviderUnavailable(f"{self.name}: {status} ({message})", retry_after=wait)
            raise _Transient(f"{status} {message}")
        if status == 402:
            raise ProviderRejectedKey(f"{self.name}: payment required ({message})")
        if status in (404, 405):
            raise ProviderUnavailable(f"{self.name}: {status} at {response.url.split('?')[0]} ({message}); "
                                      f"check base_url and model")
        if _about_the_audio(message):
            raise BadInput(f"{self.name} cannot use this audio ({message})").because("unreadable")
        raise ProviderUnavailable(f"{self.name}: refused the request ({status}: {message})")


_AUDIO_WORDS = re.compile(r"audio|file|media|decode|corrupt|duration|too short|no speech|unsupported data", re.I)


def _about_the_audio(message: str) -> bool:
    """A 400 about the audio is the user's problem (no failover loop); one about a parameter is ours."""
    return bool(_AUDIO_WORDS.search(message)) and "response_format" not in message


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "host not found"
    return exc.__class__.__name__
