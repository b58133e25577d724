"""Secrets never reach a reader: one process-wide list of the configured secrets, and the shapes of keys.

Every text the system says passes here: log lines (``logs``), error messages (a
:class:`~transhades.errors.TranshadesError` redacts its message when it is made, so the CLI's ``error:`` lines,
``/status`` and alerts are clean at the source) and the ``/status`` report. A provider that echoes the request's
``Authorization`` header in its error body cannot hand the key to anyone.

What users said is never passed here: a transcript, a translation, a summary or an export goes out word for word
(a 32-hex word, "token listriknya" or "chat" is speech, not a key).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

MARK = "[redacted]"
_SHAPES = [
    re.compile(r"\b\d{8,10}:[A-Za-z0-9_-]{35}\b"),  # Telegram bot tokens
    re.compile(r"\bgsk_[A-Za-z0-9]{20,}"),  # Groq keys
    re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),  # OpenAI-style keys
    re.compile(r"\b[0-9a-fA-F]{32}\b|\b[0-9a-fA-F]{40}\b"),  # Telegram api_hash (32), Deepgram keys (40)
]
# "Bearer KEY" / "Token KEY" in an echoed header; a key has a digit, a word ("token listriknya") has none
_WITH_PREFIX = re.compile(r"(?i)\b((?:authorization:\s*)?(?:bearer|token)\s+)(?=[^\s\"',;)]*\d)[^\s\"',;)]{8,}")

# the password of a URL (redis://:pw@host, postgresql://user:pw@host/db): whatever the URL, configured or not
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+@")

_lock = threading.Lock()
_secrets: list[str] = []  # longest first, so a secret that contains another is replaced whole


def remember(secrets: Iterable[str]) -> None:
    """Add configured secrets (keys, the bot token, api_hashes, URLs with passwords)."""
    global _secrets
    with _lock:
        _secrets = sorted(set(_secrets) | {s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)


def forget_all() -> None:
    """For tests: start from no configured secrets."""
    global _secrets
    with _lock:
        _secrets = []


def redact_urls(text: str) -> str:
    """Every URL's password replaced (the user name and the host stay, so the line still says where)."""
    return _URL_PASSWORD.sub(lambda m: m.group(1) + MARK + "@", text)


def redact(text: str) -> str:
    text = redact_urls(text)
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, MARK)
    text = _WITH_PREFIX.sub(lambda m: m.group(1) + MARK, text)
    for shape in _SHAPES:
        text = shape.sub(MARK, text)
    return text
