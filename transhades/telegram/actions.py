"""What the desk asks the bot actor to do: start a job, cancel jobs, ask the tree for its status."""

from __future__ import annotations

from dataclasses import dataclass

from ..messages import JobRequest
from .route import Route


@dataclass(frozen=True)
class StartJob:
    request: JobRequest
    route: Route


@dataclass(frozen=True)
class CancelJobs:
    job_ids: tuple[str, ...]


@dataclass(frozen=True)
class AskStatus:
    chat_id: int
    lang: str


Action = StartJob | CancelJobs | AskStatus
