"""What every supervised actor shares: reporting its own exit, and answering tasks with typed replies."""

from __future__ import annotations

import logging
from typing import Any, Callable

import pykka

from transhades import logs
from transhades.errors import TranshadesError
from transhades.messages import ChildExited, Doorbell, TaskDone, TaskFailed
from transhades.registry import Registry

log = logging.getLogger(__name__)
MAIL_BATCH = 64  # messages read from the registry before the actor's own inbox (asks, timers) gets a turn


class ExitMonitor:
    """Handed to a child when it starts: how it tells its supervisor that it has stopped, and why.

    It is the whole of what a child knows about supervision (Erlang's link, in one method)."""

    def __init__(self, supervisor: Any, name: str, generation: int) -> None:
        self.supervisor = supervisor
        self.name = name
        self.generation = generation

    def exited(self, crashed: bool, reason: str) -> None:
        try:
            self.supervisor.tell(ChildExited(self.name, self.generation, crashed, reason))
        except pykka.ActorDeadError:
            pass  # the supervisor is gone: the tree is stopping


class SupervisedActor(pykka.ThreadingActor):
    """Reports exactly one exit per incarnation: a crash (unhandled exception in ``setup`` or a told message)
    or a normal stop. Subclasses implement ``setup`` and ``receive``."""

    use_daemon_thread = True  # a stuck actor must never keep the process from exiting

    def __init__(self, name: str, monitor: ExitMonitor) -> None:
        super().__init__()
        self.name = name
        self.monitor = monitor

    def setup(self) -> None:
        """Acquire what the actor owns (a model, a database connection). Runs in the actor's thread."""

    def teardown(self) -> None:
        """Release it again. Runs on a normal stop and after a crash."""

    def receive(self, message: Any) -> Any:
        raise NotImplementedError

    def log_fields(self, message: Any) -> tuple[str | None, Any]:
        """(job id, user id) the message is about, for every line logged while handling it."""
        request = getattr(message, "request", None)
        if request is not None:
            return getattr(request, "id", None), getattr(request, "user", None)
        route = getattr(message, "route", None)
        if route is not None:
            return getattr(route, "job_id", None), getattr(route, "user_id", None)
        return getattr(message, "job_id", None), None

    keeper: Any = None  # outlives this actor (the dispatcher's JobFlow, the bot's desk); holds ``in_hand``
    kept_types: tuple[type, ...] = ()  # told messages that only live in this actor: one it dies on is kept
    mailbox: Callable[[], Any] | None = None  # registry.take for this name: where its told messages wait

    def on_start(self) -> None:
        logs.bind_actor(self.name)
        try:
            self.setup()
            self._handle_again()
        except Exception as exc:
            # pykka stops the actor without on_failure/on_stop when on_start raises; report it ourselves.
            self._release()
            self.monitor.exited(True, f"{exc.__class__.__name__} in setup: {exc}")
            raise

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Doorbell):
            return self._read_mail()
        return self._handle(message)

    def _read_mail(self) -> None:
        """Handle what waits in the registry, oldest first; a message stays there until it is taken, so one
        told as this actor crashes is read by the next incarnation. After a batch, asks and timers get a turn."""
        for _ in range(MAIL_BATCH):
            message = self.mailbox() if self.mailbox is not None else None
            if message is None:
                return None
            self._handle(message)
        self.actor_ref.tell(Doorbell())  # more may wait: come back after what else is in the inbox
        return None

    def _handle(self, message: Any) -> Any:
        logs.bind_job(*self.log_fields(message))
        kept = self.keeper is not None and isinstance(message, self.kept_types)
        if kept:
            self.keeper.in_hand = message  # where the next incarnation finds it if this one dies on it
        result = self.deliver(message)
        if kept:
            self.keeper.in_hand = None
        return result

    def _handle_again(self) -> None:
        """The message a crashed incarnation died on, once more (a second crash drops it: no poison loop)."""
        if self.keeper is None:
            return
        message, self.keeper.in_hand = self.keeper.in_hand, None
        if message is not None:
            log.warning("%s: handling again the %s a crashed incarnation died on", self.name, type(message).__name__)
            self.receive(message)

    def deliver(self, message: Any) -> Any:
        return self.receive(message)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self._release()
        self.monitor.exited(True, f"{getattr(exception_type, '__name__', 'error')}: {exception_value}")

    def on_stop(self) -> None:
        self._release()
        self.monitor.exited(False, "normal")

    def _release(self) -> None:
        try:
            self.teardown()
        except Exception:
            log.exception("%s: teardown failed", self.name)


class WorkerActor(SupervisedActor):
    """A worker answers each task with TaskDone or TaskFailed, sent by name so a restarted dispatcher gets it.

    Only typed errors are answered; anything else is a bug and crashes the actor (let it crash), which the
    supervisor restarts and the dispatcher notices, placing the task again."""

    def __init__(self, name: str, monitor: ExitMonitor, registry: Registry, faults: Any = None) -> None:
        super().__init__(name, monitor)
        self.registry = registry
        self.faults = faults  # a transhades.chaos.Faults, given by ``transhades simulate`` only

    def deliver(self, message: Any) -> Any:
        if self.faults is not None and hasattr(message, "ticket"):
            self.faults.maybe_crash(self.name)  # crash while handling a task, before doing it
        return self.receive(message)

    def answer(self, message: Any, work: Callable[[], Any]) -> None:
        try:
            result = work()
        except TranshadesError as error:
            self.registry.tell(message.reply_to, TaskFailed(message.ticket, self.name, error))
            return
        self.registry.tell(message.reply_to, TaskDone(message.ticket, self.name, result))
