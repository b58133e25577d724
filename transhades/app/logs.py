"""Logging setup, with every known secret redacted from every line."""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

from transhades import redaction


class Redactor(logging.Filter):
    """Log lines go through :mod:`transhades.redaction`, like every other text a person reads."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        redaction.remember(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        redaction.remember(secrets)

    def redact(self, text: str) -> str:
        return redaction.redact(without_queries(text))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_URL_QUERY = re.compile(r"((?:https?://|\"(?:GET|HEAD|POST|PUT) )[^\s?\"]*)\?[^\s\"]*")


def without_queries(text: str) -> str:
    """Every URL's query string, and the query of a request line as urllib3 logs it ("GET /a.ogg?sig=… HTTP/1.1"),
    left out of the logs at any verbosity: a signed link carries its token there."""
    return _URL_QUERY.sub(lambda m: m.group(1) + "?…", text)


# ------------------------------------------------------------------------------------- who a line is about

_local = threading.local()


def bind_actor(name: str) -> None:
    """Name the actor that owns this thread; every line logged from it says so."""
    _local.actor = name


def bind_job(job_id: str | None = None, user_id: Any = None) -> None:
    """The job (and its user) the current message is about, until the next bind_job()."""
    _local.job_id, _local.user_id = job_id, user_id


class Context(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.actor = getattr(_local, "actor", None) or threading.current_thread().name
        record.job_id = getattr(_local, "job_id", None) or "-"
        user = getattr(_local, "user_id", None)
        record.user_id = "-" if user is None else str(user)
        return True


PLAIN = "%(asctime)s %(levelname)s [%(actor)s job=%(job_id)s user=%(user_id)s] %(name)s: %(message)s"


class PlainFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__(PLAIN)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.redact(super().format(record))  # the traceback too


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) +
                f".{int(record.msecs):03d}Z",
                "level": record.levelname.lower(), "logger": record.name,
                "actor": getattr(record, "actor", "-"), "job_id": getattr(record, "job_id", "-"),
                "user_id": getattr(record, "user_id", "-"), "message": self.redactor.redact(record.getMessage())}
        if record.exc_info:
            line["error"] = self.redactor.redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def setup(level: int = logging.WARNING, stream=None, secrets: Iterable[str] = (), fmt: str = "plain") -> Redactor:
    redactor = Redactor(secrets)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(redactor) if fmt == "json" else PlainFormatter(redactor))
    handler.addFilter(Context())
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # pykka logs a crashed actor's traceback at ERROR; that is wanted, but keep its debug chatter out.
    logging.getLogger("pykka").setLevel(max(level, logging.INFO))
    return redactor
