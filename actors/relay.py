"""The front's dispatcher: a shell over the plain Relay. Jobs go to the cluster's stream; events read from the
results stream come back as RemoteEvent and go to each job's listener. Registered as ``dispatcher``, so the bot
talks to it exactly as to the single-process dispatcher."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from transhades.actors.base import ExitMonitor, SupervisedActor
from transhades.cluster.codec import final
from transhades.cluster.front import Relay
from transhades.messages import (
    CancelJob,
    GetStatus,
    MemberChanged,
    Membership,
    PublishAgain,
    RemoteEvent,
    StatusReport,
    StatusRequest,
    SubmitJob,
)
from transhades.snapshot import FlowStatus
from transhades.supervision.registry import Registry

log = logging.getLogger(__name__)


class RelayActor(SupervisedActor):
    kept_types = (SubmitJob, CancelJob, RemoteEvent)  # a crash must not lose these

    def __init__(self, name: str, monitor: ExitMonitor, *, registry: Registry, relay: Relay,
                 status: Callable[[Relay], FlowStatus]) -> None:
        super().__init__(name, monitor)
        self.keeper = relay  # outlives a crash: the listeners and the orphaned results
        self.registry = registry
        self.relay = relay
        self.status = status  # the whole cluster's status, read from Redis

    def receive(self, message: Any) -> Any:
        if isinstance(message, RemoteEvent):
            self.relay.event(message.event)
            self.relay.acknowledge(message.entry_id, message.event.job_id if final(message.event) else None)
        elif isinstance(message, PublishAgain):
            self.relay.publish_again(message.lost)
        elif isinstance(message, SubmitJob):
            self.relay.submit(message.request, message.listener)
        elif isinstance(message, CancelJob):
            self.relay.cancel(message.job_id)
        elif isinstance(message, GetStatus):
            return self.status(self.relay)
        elif isinstance(message, StatusRequest):
            self.registry.tell(message.reply_to, StatusReport(message.context, self.status(self.relay)))
        elif isinstance(message, (Membership, MemberChanged)):
            pass  # the front's own tree has no workers to place jobs on: the cluster's status comes from Redis
        else:
            raise TypeError(f"relay got an unknown message {type(message).__name__}")
        return None
