"""Where a job's media comes from, and what audio preparation hands to the providers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LocalFile:
    """Media already on this machine (the offline CLI, or a finished download)."""

    path: str

    def describe(self) -> str:
        return self.path


@dataclass(frozen=True, slots=True)
class TelegramFile:
    """Media in a Telegram message, as any session of the bot can fetch it."""

    chat_id: int
    message_id: int
    file_id: str
    file_unique_id: str
    size: int
    kind: str  # voice | audio | video | video_note | document
    mime_type: str | None = None
    duration: float | None = None
    file_name: str | None = None

    def describe(self) -> str:
        return f"{self.kind} {self.file_unique_id}"


@dataclass(frozen=True, slots=True)
class WebLink:
    """Media behind an http(s) link a user sent instead of a file; fetched by a fetcher actor."""

    url: str

    def describe(self) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)  # no query or credentials: signed links carry their token there
        return f"link {parts.hostname or ''}{parts.path}"


@dataclass(frozen=True, slots=True)
class AudioChunk:
    """One piece of prepared audio, small enough for the provider it is sent to."""

    index: int
    path: str
    offset: float  # seconds from the start of the whole recording
    duration: float
    size: int
    content_type: str
    # The part of the recording this chunk speaks for; the overlap beyond it belongs to a neighbour and is
    # dropped when stitching (a segment counts where its midpoint falls).
    keep_from: float = 0.0
    keep_until: float = float("inf")


@dataclass(frozen=True, slots=True)
class PreparedAudio:
    """16 kHz mono speech audio in a compact codec, split into chunks when it is too large to send at once."""

    path: str
    duration: float
    size: int
    content_type: str
    chunks: tuple[AudioChunk, ...]
