"""The language model actor: translates and summarizes transcripts for the bot through the configured ``llm:``
chat model. Its client is built once per incarnation, in the actor's own thread; a request it waits on (a short
rate limit) holds only this actor, never the bot. Every request is answered: an expected failure as an error the
user reads, a bug as an internal error before the actor crashes and is restarted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transhades.actors.base import ExitMonitor, OwnsClient, SupervisedActor
from transhades.errors import TranshadesError
from transhades.llm.client import ChatModel
from transhades.messages import AskModel, ModelAnswer
from transhades.supervision.registry import Registry


class LlmActor(OwnsClient, SupervisedActor):
    def __init__(self, name: str, monitor: ExitMonitor, *, registry: Registry, build: Callable[[], ChatModel]) -> None:
        super().__init__(name, monitor)
        self.registry = registry
        self.build = build

    def receive(self, message: Any) -> Any:
        if not isinstance(message, AskModel):
            raise TypeError(f"language model actor got an unknown message {type(message).__name__}")
        try:
            text = self.client.answer(message.task, message.text, message.language)
        except TranshadesError as error:
            self.registry.tell(message.reply_to, ModelAnswer(message.context, error=error))
            return
        except Exception:
            self.registry.tell(message.reply_to, ModelAnswer(message.context, error=TranshadesError(
                "an internal error in the language model client")))
            raise  # let it crash: the supervisor restarts it
        self.registry.tell(message.reply_to, ModelAnswer(message.context, text=text))
