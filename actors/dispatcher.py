"""The dispatcher actor: feeds messages to the plain JobFlow and carries out the effects it returns.

It never blocks on another actor: every request goes out with ``tell`` and comes back as a reply message.
The JobFlow object outlives a crash of this actor (the supervisor's child spec owns it), so a restarted
dispatcher picks up every job where it was and places its in-flight tasks again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from transhades.actors.base import ExitMonitor, SupervisedActor
from transhades.audio.arrivals import Arrivals
from transhades.clock import Clock
from transhades.dispatch.effects import Arrived, Withdraw
from transhades.dispatch.jobflow import Alert, Emit, JobFlow, Quarantine, ReleaseJob, Send, WakeUp
from transhades.messages import (
    CancelJob,
    GetStatus,
    MemberChanged,
    Membership,
    QuarantineGroup,
    StatusReport,
    StatusRequest,
    SubmitJob,
    TaskDone,
    TaskFailed,
    TaskProgress,
    Wake,
)
from transhades.supervision.contracts import FaultInjector
from transhades.supervision.registry import Registry

log = logging.getLogger(__name__)


class DispatcherActor(SupervisedActor):
    def __init__(self, name: str, monitor: ExitMonitor, *, registry: Registry, flow: JobFlow,
                 release: Callable[[str], None], alert: Callable[[str], None] | None = None,
                 supervisor: str = "supervisor", faults: FaultInjector | None = None, clock: Clock | None = None,
                 arrivals: Arrivals | None = None) -> None:
        super().__init__(name, monitor)
        self.faults = faults  # transhades simulate: crash on a job's message now and then
        self.keeper = flow
        self.registry = registry
        self.flow = flow
        self.release = release
        self.alert = alert or (lambda text: None)
        self.supervisor = supervisor
        self.clock = clock  # for wake-ups; without one (tests of other things) nothing is paced
        self.arrivals = arrivals  # where the audio preparation that reads a download learns what has landed

    def log_fields(self, message: Any) -> tuple[str | None, Any]:
        ticket = getattr(message, "ticket", None)
        task = self.flow.tickets.get(ticket) if isinstance(ticket, int) else None
        if task is None:
            return super().log_fields(message)
        job = self.flow.jobs.get(task.job_id)
        return task.job_id, job.user if job is not None else None

    kept_types = (SubmitJob, CancelJob, TaskDone, TaskFailed, TaskProgress)  # a crash must not lose these

    def deliver(self, message: Any) -> Any:
        if self.faults is not None and isinstance(message, (SubmitJob, TaskDone, TaskFailed)):
            self.faults.maybe_crash(self.name)
        return self.receive(message)

    def receive(self, message: Any) -> Any:
        flow = self.flow
        if isinstance(message, TaskDone):
            effects = flow.task_done(message.ticket, message.result)
        elif isinstance(message, TaskFailed):
            log.info("task %s failed on %s: %s", message.ticket, message.worker, message.error)
            effects = flow.task_failed(message.ticket, message.error)
        elif isinstance(message, TaskProgress):
            effects = flow.task_progress(message.ticket, message.fraction, message.text)
        elif isinstance(message, SubmitJob):
            effects = flow.submit(message.request, message.listener)
        elif isinstance(message, CancelJob):
            effects = flow.cancel(message.job_id)
        elif isinstance(message, MemberChanged):
            effects = flow.member_changed(message.member)
        elif isinstance(message, Membership):
            effects = flow.membership(message.members)
        elif isinstance(message, Wake):
            effects = flow.tick()
        elif isinstance(message, GetStatus):
            return flow.status()
        elif isinstance(message, StatusRequest):
            self.registry.tell(message.reply_to, StatusReport(message.context, flow.status()))
            return None
        else:
            raise TypeError(f"dispatcher got an unknown message {type(message).__name__}")
        self.carry_out(effects)
        return None

    def carry_out(self, effects: list) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self.registry.tell(effect.to, effect.message)
            elif isinstance(effect, Emit):
                try:
                    effect.listener(effect.event)
                except Exception:  # a listener's bug must not take every other job down with it
                    log.exception("job listener failed on %s", type(effect.event).__name__)
            elif isinstance(effect, Quarantine):
                self.registry.tell(self.supervisor, QuarantineGroup(effect.group, effect.seconds, effect.reason))
            elif isinstance(effect, ReleaseJob):
                if self.arrivals is not None:
                    self.arrivals.forget(effect.job_id)
                self.release(effect.job_id)
            elif isinstance(effect, Arrived):
                if self.arrivals is not None:
                    self.arrivals.arrived(effect.job_id, effect.size, effect.first, effect.count)
            elif isinstance(effect, WakeUp):
                if self.clock is not None:  # by name: a restarted dispatcher still gets it
                    self.clock.call_later(effect.seconds, lambda: self.registry.tell(self.name, Wake()))
            elif isinstance(effect, Withdraw):
                self.registry.withdrawn.add(effect.tickets)
            elif isinstance(effect, Alert):
                log.error("ALERT: %s", effect.text)
                self.alert(effect.text)
