"""Logging setup, with every known secret redacted from every line."""

from __future__ import annotations

import logging
import re
import sys
from typing import Iterable

_TOKEN_SHAPES = [
    re.compile(r"\b\d{8,10}:[A-Za-z0-9_-]{35}\b"),  # Telegram bot tokens
    re.compile(r"\bgsk_[A-Za-z0-9]{20,}\b"),  # Groq keys
    re.compile(r"(?i)(authorization:\s*(?:bearer|token)\s+)\S+"),
]


class Redactor(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted(set(self.secrets) | {s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        for shape in _TOKEN_SHAPES:
            text = shape.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def setup(level: int = logging.WARNING, stream=None, secrets: Iterable[str] = ()) -> Redactor:
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # pykka logs a crashed actor's traceback at ERROR; that is wanted, but keep its debug chatter out.
    logging.getLogger("pykka").setLevel(max(level, logging.INFO))
    return redactor
