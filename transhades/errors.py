"""Errors are values with a kind the dispatcher can act on, not strings to parse.

Plain code raises them; worker actors catch them and send them back to the dispatcher inside a
``TaskFailed`` message. Anything that is *not* a :class:`TranshadesError` is a bug: the worker lets it crash
the actor and the supervisor restarts it.
"""

from __future__ import annotations

from typing import Self

from transhades.redaction import redact


class TranshadesError(Exception):
    """Base of every expected failure. ``message`` is one line a user or operator can act on."""

    kind = "internal"
    reason: str | None = None  # what a user is told, as a text key (``reason_<key>``); None: by ``kind``

    def __init__(self, message: str) -> None:
        message = redact(message)  # it may quote a provider's body, which may quote our key back
        super().__init__(message)
        self.message = message

    def because(self, reason: str) -> Self:
        """The same error, with the text key a user is told (the message, in English, is for the log)."""
        self.reason = reason
        return self

    def __str__(self) -> str:
        return self.message


class BadInput(TranshadesError):
    """The media itself cannot be transcribed (empty, not audio, no audio track, too long). Never retried."""

    kind = "bad_input"


class RateLimited(TranshadesError):
    """The remote side asked us to wait ``retry_after`` seconds. Not a crash: the sender is quarantined."""

    kind = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(0.0, float(retry_after))


class ProviderUnavailable(TranshadesError):
    """A provider failed (5xx, timeout, refused connection, model cannot load). The job fails over."""

    kind = "provider_down"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderRejectedKey(TranshadesError):
    """401/403: the key is wrong or revoked. The provider is disabled until restart."""

    kind = "provider_auth"


class UploadTooLarge(TranshadesError):
    """413: the provider will not take a chunk this big. The job fails over (or is cut smaller)."""

    kind = "too_large"


class Cancelled(TranshadesError):
    kind = "cancelled"


class ConfigError(TranshadesError):
    """A configuration file with problems; ``problems`` holds one line per problem, each naming its key."""

    kind = "config"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = [redact(problem) for problem in problems]
