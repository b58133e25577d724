"""Where a job's messages go: it travels with the job's events and is written to the journal."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """Where a job's messages go. It travels with the job's events, so a restarted bot still knows."""

    job_id: str
    chat_id: int
    user_id: int
    reply_to: int
    lang: str
    format: str
    task: str = "transcribe"  # or "translate": Whisper's English translation, answered as such and not kept
    silent: bool = False  # a quiet chat (/silent on): no status messages, only the result as a reply
