"""The generic supervisor: a one_for_one supervisor for pykka actors with Erlang/OTP semantics (restart types,
restart intensity within a period, exponential backoff with jitter, escalation) and quarantine until a deadline,
which is not a crash.

Its policy is data (``transhades.supervision.policy``: ``RestartPolicy``, ``ChildSpec``) and its decisions are plain
(``ChildRecord``); this actor only carries them out. It knows its children only through their specs, as OTP's
supervisor behaviour knows them; transhades' own tree is described in ``supervisor.py`` at the top level.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Protocol

import pykka

from transhades.actors.base import ExitMonitor, Interrupted
from transhades.clock import Clock
from transhades.messages import (
    ChildExited,
    MemberView,
    QuarantineGroup,
    QuarantineOver,
    RestartDue,
    StopTree,
    TreeStatus,
)
from transhades.supervision.policy import (
    ChildRecord,
    ChildSpec,
    ChildState,
    Escalate,
    Escalation,
    LetRest,
    RestartAfter,
    RestartPolicy,
)
from transhades.supervision.registry import Registry

log = logging.getLogger("transhades.supervisor")

SUPERVISOR = "supervisor"


class TreeListener(Protocol):
    def member_changed(self, view: MemberView, table: tuple[MemberView, ...]) -> None: ...


class Supervisor(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self, specs: list[ChildSpec], policy: RestartPolicy, clock: Clock, registry: Registry, *,
                 listener: TreeListener | None = None, rng: random.Random | None = None,
                 on_alert: Callable[[str], None] | None = None,
                 on_tree_stopped: Callable[[str], None] | None = None) -> None:
        super().__init__()
        names = [s.name for s in specs]
        if len(set(names)) != len(names):
            raise ValueError("child names must be unique")
        self.specs = specs
        self.clock = clock
        self.registry = registry
        self.listener = listener
        self.rng = rng or random.Random()
        self.on_alert = on_alert if on_alert is not None else (lambda text: None)
        self.on_tree_stopped = on_tree_stopped if on_tree_stopped is not None else (lambda reason: None)
        self.records = {s.name: ChildRecord(s, policy) for s in specs}
        self.refs: dict[str, Any] = {}
        self.stopping = False

    # ------------------------------------------------------------------------------------------ lifecycle

    def on_start(self) -> None:
        self.registry.register(SUPERVISOR, self.actor_ref)
        for spec in self.specs:
            self._start_child(spec.name)

    def on_receive(self, message: Any) -> Any:
        try:
            return self._receive(message)
        except Exception:
            raise
        except BaseException as exc:  # pykka would stop every actor of the process without a word (see base.py)
            raise Interrupted(f"{exc.__class__.__name__} while handling {type(message).__name__}: {exc}") from exc

    def _receive(self, message: Any) -> Any:
        if isinstance(message, ChildExited):
            self._child_exited(message)
        elif isinstance(message, RestartDue):
            record = self.records[message.name]
            if not self.stopping and record.generation == message.generation and record.state is ChildState.RESTARTING:
                self._start_child(message.name)
        elif isinstance(message, QuarantineGroup):
            self._quarantine(message)
        elif isinstance(message, QuarantineOver):
            self._quarantine_over(message)
        elif isinstance(message, StopTree):
            return self._stop_children("requested", message.budget)
        elif isinstance(message, TreeStatus):
            return [r.view() for r in self.records.values()]
        else:
            raise TypeError(f"supervisor got an unknown message {type(message).__name__}")
        return None

    # ------------------------------------------------------------------------------------------ children

    def _start_child(self, name: str) -> None:
        record = self.records[name]
        record.generation += 1
        monitor = ExitMonitor(self.actor_ref, name, record.generation)
        try:
            ref = record.spec.start(monitor)
        except Exception as exc:  # the actor could not even be constructed: a crash like any other
            log.error("%s could not start: %s", name, exc)
            self.actor_ref.tell(ChildExited(name, record.generation, True, f"start failed: {exc}"))
            return
        self.refs[name] = ref
        self.registry.register(name, ref)
        now = self.clock.now()
        quarantined = record.quarantined_until is not None and record.quarantined_until > now
        record.state = ChildState.QUARANTINED if quarantined else ChildState.RUNNING
        self._notify(record)

    def _child_exited(self, message: ChildExited) -> None:
        record = self.records.get(message.name)
        if record is None or self.stopping or message.generation != record.generation:
            return  # a stale report from an incarnation already replaced, or the tree is stopping
        self.registry.unregister(message.name, self.refs.pop(message.name, None))
        record.last_reason = message.reason
        decision = record.on_exit(self.clock.now(), message.crashed, self.rng)
        if isinstance(decision, RestartAfter):
            record.state = ChildState.RESTARTING
            log.warning("%s %s (%s); restart %d in %.2f s", message.name,
                        "crashed" if message.crashed else "exited", message.reason, decision.restart_number,
                        decision.delay)
            generation = record.generation
            self.clock.call_later(decision.delay, lambda: self._tell_self(RestartDue(message.name, generation)))
            self._notify(record)
        elif isinstance(decision, LetRest):
            record.state = ChildState.STOPPED
            log.info("%s exited (%s) and is not restarted (%s)", message.name, message.reason,
                     record.spec.restart.value)
            self._notify(record)
        elif isinstance(decision, Escalate):
            record.state = ChildState.FAILED
            alert = (f"ALERT: {message.name} restarted {decision.restarts} times within "
                     f"{record.policy.within_seconds:g} s and crashed again ({message.reason}); ")
            if decision.how is Escalation.STOP_TREE:
                log.error("%sstopping the whole tree", alert)
                self.on_alert(alert + "stopping the whole tree")
                self._notify(record)
                self._stop_children(f"{message.name} failed")
                self.on_tree_stopped(f"{message.name} failed: {message.reason}")
                self.actor_ref.stop(block=False)
            else:
                log.error("%smarked failed", alert)
                self.on_alert(alert + "marked failed")
                self._notify(record)

    def _quarantine(self, message: QuarantineGroup) -> None:
        until = self.clock.now() + message.seconds
        for record in self.records.values():
            if record.spec.group != message.group or record.state in (ChildState.FAILED, ChildState.STOPPED):
                continue
            if record.quarantine(until):
                if record.state is ChildState.RUNNING:
                    record.state = ChildState.QUARANTINED
                log.warning("%s quarantined for %.1f s: %s", record.spec.name, message.seconds, message.reason)
                over = QuarantineOver(record.spec.name, until)
                self.clock.call_later(message.seconds, partial(self._tell_self, over))
                self._notify(record)

    def _quarantine_over(self, message: QuarantineOver) -> None:
        record = self.records[message.name]
        if record.quarantined_until != message.deadline:
            return  # the deadline moved later; a later timer will readmit it
        record.quarantined_until = None
        if record.state is ChildState.QUARANTINED:
            record.state = ChildState.RUNNING
        log.info("%s readmitted", message.name)
        self._notify(record)

    def _stop_children(self, reason: str, budget: float | None = None) -> dict[str, str]:
        """Stop every child in reverse start order, each within its shutdown time and all within ``budget``
        (real seconds: a stop waits on threads, not on the tree's clock). Returns name -> outcome."""
        self.stopping = True
        deadline = None if budget is None else time.monotonic() + budget
        outcome: dict[str, str] = {}
        for spec in reversed(self.specs):
            ref = self.refs.pop(spec.name, None)
            self.registry.unregister(spec.name, ref)
            if ref is None:
                outcome[spec.name] = "not running"
                record = self.records[spec.name]
                if record.state is not ChildState.FAILED:  # one waiting for its restart will not get one
                    record.state = ChildState.STOPPED
                continue
            timeout = spec.shutdown_seconds
            if deadline is not None:
                timeout = max(0.05, min(timeout, deadline - time.monotonic()))
            try:
                ref.stop(block=True, timeout=timeout)
                outcome[spec.name] = "stopped"
            except pykka.Timeout:
                log.error("%s did not stop within %.1f s; abandoning it", spec.name, timeout)
                outcome[spec.name] = "timeout"
            except pykka.ActorDeadError:
                outcome[spec.name] = "already dead"
            self.records[spec.name].state = ChildState.STOPPED
        log.info("tree stopped (%s)", reason)
        return outcome

    def on_stop(self) -> None:
        if not self.stopping:
            self._stop_children("supervisor stopped")
        self.registry.unregister(SUPERVISOR, self.actor_ref)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        """A message the supervisor itself could not handle. Nobody supervises the supervisor, so it must not
        vanish (pykka ends it without ``on_stop``): it stops its children, tells the operator and leaves its reason,
        and the process exits for its own process supervisor to start it again, as OTP's top supervisor does."""
        reason = f"the supervisor failed ({exception_type.__name__}: {exception_value})"
        log.critical("ALERT: %s; stopping the whole tree", reason,
                     exc_info=(exception_type, exception_value, traceback))
        try:
            self.on_alert(f"ALERT: {reason}; stopping the whole tree")
            if not self.stopping:
                self._stop_children(reason)
        finally:
            self.registry.unregister(SUPERVISOR, self.actor_ref)
            self.on_tree_stopped(reason)

    # ------------------------------------------------------------------------------------------ helpers

    def _tell_self(self, message: Any) -> None:
        try:
            self.actor_ref.tell(message)
        except pykka.ActorDeadError:
            pass

    def _view(self, record: ChildRecord) -> MemberView:
        return MemberView(record.spec.name, record.spec.group, record.state.value, record.quarantined_until,
                          record.last_reason)

    def _notify(self, record: ChildRecord) -> None:
        if self.listener is None:
            return
        table = tuple(self._view(r) for r in self.records.values())
        try:
            self.listener.member_changed(self._view(record), table)
        except Exception:
            log.exception("tree listener failed")
