"""What the desk asks the bot actor to do: start a job, cancel jobs, ask the tree for its status, ask the
language model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transhades.messages import JobRequest
from transhades.telegram.route import Route


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


@dataclass(frozen=True)
class Ask:
    """Where a language model's answer goes, and what it is (its status message is keyed by ``ask_id``)."""

    ask_id: str
    chat_id: int
    reply_to: int | None
    lang: str
    task: str  # translate | summary
    language: str  # translate: the target; summary: the language it is written in
    user_id: int = 0
    actor: str = "llm-1"  # the model actor asked


@dataclass(frozen=True)
class UseModel:
    ask: Ask
    text: str


@dataclass(frozen=True)
class Offload:
    """Work over a user's kept transcripts (a command or a button press), done off the bot's intake by the
    history actor, so that one user's search over a long transcript never holds up anyone's voice note."""

    command: str  # history | search | export | stats | a press: hist | forget
    update: Any  # the Message or CallbackQuery
    arg: str
    lang: str


Action = StartJob | CancelJobs | AskStatus | UseModel | Offload
