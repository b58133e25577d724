"""Jobs and their events as JSON, for what outlives a process: the journal's rows and the cluster's streams.

JSON, not pickles: a newer version reads what an older one wrote, and nothing read from Redis can run code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from typing import Any

from transhades.errors import (
    BadInput,
    Cancelled,
    ProviderRejectedKey,
    ProviderUnavailable,
    RateLimited,
    TranshadesError,
    UploadTooLarge,
)
from transhades.media import TelegramFile, WebLink
from transhades.messages import Completed, Failed, JobEvent, JobRequest, Partial, Queued, Stage, Waiting
from transhades.transcript import Transcript

_MEDIA_FIELDS = {f.name for f in fields(TelegramFile)}
_ERRORS: dict[str, type[TranshadesError]] = {cls.kind: cls for cls in (
    TranshadesError, BadInput, ProviderUnavailable, ProviderRejectedKey, UploadTooLarge, Cancelled)}


def dump_request(request: JobRequest) -> str:
    if not isinstance(request.media, (TelegramFile, WebLink)):
        raise TypeError("only Telegram jobs (a file or a link) are written down or shared")
    return json.dumps({"id": request.id, "user": request.user, "media": asdict(request.media),
                       "source_key": request.source_key, "provider": request.provider, "language": request.language,
                       "models": [list(m) for m in request.models], "language_hint": request.language_hint,
                       "task": request.task, "speakers": request.speakers, "voices": request.voices,
                       "vocabulary": list(request.vocabulary)})


def load_request(text: str) -> JobRequest:
    """Fields a newer version added are ignored (a rolling upgrade runs both versions at once)."""
    data = json.loads(text)
    raw = data["media"]
    media: TelegramFile | WebLink = WebLink(raw["url"]) if "url" in raw else \
        TelegramFile(**{k: v for k, v in raw.items() if k in _MEDIA_FIELDS})
    return JobRequest(data["id"], data["user"], media, data["source_key"], data["provider"],
                      data["language"], tuple((str(m[0]), str(m[1])) for m in data["models"]),
                      data.get("language_hint"), data.get("task") or "transcribe", data.get("speakers") or "off",
                      bool(data.get("voices")), tuple(str(t) for t in data.get("vocabulary") or ()))


def dump_event(event: JobEvent) -> str:
    data: dict[str, Any] = {"job_id": event.job_id}
    if isinstance(event, Queued):
        data.update(type="queued", position=event.position)
    elif isinstance(event, Stage):
        data.update(type="stage", stage=event.stage, part=event.part, parts=event.parts, fraction=event.fraction)
    elif isinstance(event, Waiting):
        data.update(type="waiting", seconds=event.seconds, reason=event.reason)
    elif isinstance(event, Partial):
        data.update(type="partial", transcript=event.transcript.to_dict(), done=event.done, parts=event.parts)
    elif isinstance(event, Completed):
        data.update(type="completed", transcript=event.transcript.to_dict(), cached=event.cached)
        if event.voices:  # only for a chat that remembers voices (transhades.speakers.names)
            data["voices"] = {speaker: [round(x, 5) for x in vector] for speaker, vector in event.voices}
    else:
        error = event.error
        data.update(type="failed", kind=error.kind, message=error.message,
                    retry_after=getattr(error, "retry_after", None), reason=error.reason)
    return json.dumps(data)


def load_event(text: str) -> JobEvent:
    data = json.loads(text)
    job_id, kind = data["job_id"], data["type"]
    if kind == "queued":
        return Queued(job_id, int(data["position"]))
    if kind == "stage":
        return Stage(job_id, data["stage"], data["part"], data["parts"], data["fraction"])
    if kind == "waiting":
        return Waiting(job_id, float(data["seconds"]), data["reason"])
    if kind == "partial":
        return Partial(job_id, Transcript.from_dict(data["transcript"]), int(data["done"]), int(data["parts"]))
    if kind == "completed":
        voices = tuple((str(k), tuple(float(x) for x in v)) for k, v in (data.get("voices") or {}).items())
        return Completed(job_id, Transcript.from_dict(data["transcript"]), bool(data["cached"]), voices)
    error = load_error(data["kind"], data["message"], data.get("retry_after"))
    return Failed(job_id, error.because(data["reason"]) if data.get("reason") else error)


def load_error(kind: str, message: str, retry_after: float | None = None) -> TranshadesError:
    if kind == RateLimited.kind:
        return RateLimited(message, retry_after or 0.0)
    return _ERRORS.get(kind, TranshadesError)(message)


def final(event: JobEvent) -> bool:
    return isinstance(event, (Completed, Failed))
