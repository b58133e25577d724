"""What every supervised actor shares: reporting its own exit, and answering tasks with typed replies."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pykka

from transhades.app import logs
from transhades.errors import Cancelled, TranshadesError
from transhades.messages import ChildExited, Ping, TaskDone, TaskFailed, TaskProgress
from transhades.supervision.contracts import FaultInjector, Mailbox
from transhades.supervision.keeper import Keeper
from transhades.supervision.registry import Registry

log = logging.getLogger(__name__)
PROGRESS_STEP = 0.05  # report progress in steps of at least 5 %
TEXT_SECONDS = 1.0  # the text so far of a chunk being decoded, at most this often


class ExitMonitor:
    """Handed to a child when it starts: how it tells its supervisor that it has stopped, and why.

    It is the whole of what a child knows about supervision (Erlang's link, in one method)."""

    def __init__(self, supervisor: Mailbox, name: str, generation: int) -> None:
        self.supervisor = supervisor
        self.name = name
        self.generation = generation

    def exited(self, crashed: bool, reason: str) -> None:
        try:
            self.supervisor.tell(ChildExited(self.name, self.generation, crashed, reason))
        except pykka.ActorDeadError:
            pass  # the supervisor is gone: the tree is stopping


class Interrupted(RuntimeError):
    """A BaseException that is no Exception, raised while an actor handled a message: made a crash of that actor."""


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

    keeper: Keeper | None = None  # outlives this actor and holds ``in_hand`` (transhades.supervision.keeper)
    kept_types: tuple[type, ...] = ()  # told messages that only live in this actor: one it dies on is kept

    def on_start(self) -> None:
        logs.bind_actor(self.name)
        try:
            self.setup()
            self._handle_again()
        except Exception as exc:
            # pykka stops the actor without on_failure/on_stop when on_start raises; report it ourselves.
            self._release()
            self._crashed(f"{exc.__class__.__name__} in setup: {exc}")
            raise

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return self.pong()
        logs.bind_job(*self.log_fields(message))
        keeper = self.keeper if isinstance(message, self.kept_types) else None
        if keeper is not None:
            keeper.in_hand = message  # where the next incarnation finds it if this one dies on it
        try:
            result = self.deliver(message)
        except Exception:
            raise
        except BaseException as exc:  # CancelledError, GeneratorExit, KeyboardInterrupt in a worker thread...
            # pykka answers anything that is not an Exception by stopping every actor of the process, silently
            # (at DEBUG): the whole tree would vanish without a reason. Here it is a crash of this actor, which
            # its supervisor restarts like any other.
            raise Interrupted(f"{exc.__class__.__name__} while handling {type(message).__name__}: {exc}") from exc
        if keeper is not None:
            keeper.in_hand = None
        return result

    def pong(self) -> Any:
        """The answer to a Ping: what this actor still has in flight (0 for most)."""
        return 0

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

    registry: Registry | None = None  # set by the actors whose told messages must outlive a crash

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        self._release()
        self._crashed(f"{getattr(exception_type, '__name__', 'error')}: {exception_value}")

    def _crashed(self, reason: str) -> None:
        """Hand over what was queued and never handled, then report the crash, so that the next incarnation
        cannot start before the hand-over (pykka discards a crashed actor's queued tells)."""
        if self.registry is not None and self.keeper is not None:
            self.registry.retire(self.name, self.actor_ref, self._unhandled)
        self.monitor.exited(True, reason)

    def on_stop(self) -> None:
        self._release()
        self.monitor.exited(False, "normal")

    def _unhandled(self) -> list[Any]:
        """Empties the inbox: the messages told to this incarnation that it will never handle. Asks go back,
        for pykka to answer with ActorDeadError."""
        left, asks = [], []
        while not self.actor_inbox.empty():  # only this thread reads it, and no sender can put any more
            envelope = self.actor_inbox.get()
            if envelope.reply_to is not None:
                asks.append(envelope)
            elif not type(envelope.message).__module__.startswith("pykka"):
                left.append(envelope.message)
        for envelope in asks:  # pykka answers these with ActorDeadError
            self.actor_inbox.put(envelope)
        return left

    def _release(self) -> None:
        try:
            self.teardown()
        except Exception:
            log.exception("%s: teardown failed", self.name)


class WorkerActor(SupervisedActor):
    """A worker answers each task with TaskDone or TaskFailed, sent by name so a restarted dispatcher gets it.

    Only typed errors are answered; anything else is a bug and crashes the actor (let it crash), which the
    supervisor restarts and the dispatcher notices, placing the task again."""

    registry: Registry  # always given: every answer is sent through it

    def __init__(self, name: str, monitor: ExitMonitor, registry: Registry,
                 faults: FaultInjector | None = None) -> None:
        super().__init__(name, monitor)
        self.registry = registry
        self.faults = faults  # a transhades.devtools.chaos.Faults, given by ``transhades simulate`` only

    def deliver(self, message: Any) -> Any:
        if self.faults is not None and hasattr(message, "ticket"):
            self.faults.maybe_crash(self.name)  # crash while handling a task, before doing it
        return self.receive(message)

    def progress(self, message: Any) -> Callable[..., None]:
        """Reports a task's progress to whoever asked, in steps of at least 5 %, not per segment or block; the
        text so far (a provider decoding as it goes) at once the first time, then at most every second."""
        reported = [0.0]
        shown: list[Any] = [None, 0.0]  # the text last sent, and when

        def report(fraction: float, text: Any = None) -> None:
            if message.ticket in self.registry.withdrawn:  # the job ended (/cancel): stop at this step
                raise Cancelled("the job this task belongs to has ended")
            now = time.monotonic()
            if text is not None and text.text and text.text != shown[0] and \
                    (shown[0] is None or now - shown[1] >= TEXT_SECONDS):
                shown[:] = [text.text, now]
                reported[0] = max(reported[0], fraction)
                self.registry.tell(message.reply_to, TaskProgress(message.ticket, fraction, text))
            elif fraction - reported[0] >= PROGRESS_STEP:
                reported[0] = fraction
                self.registry.tell(message.reply_to, TaskProgress(message.ticket, fraction))

        return report

    def answer(self, message: Any, work: Callable[[], Any]) -> None:
        try:
            result = work()
        except TranshadesError as error:
            self.registry.tell(message.reply_to, TaskFailed(message.ticket, self.name, error))
            return
        self.registry.tell(message.reply_to, TaskDone(message.ticket, self.name, result))


class OwnsClient:
    """Mixed into an actor that builds one client (an HTTP session, a model) per incarnation, in its own thread,
    and closes it on a stop or a crash. The actor sets ``build``."""

    build: Callable[[], Any]
    client: Any = None

    def setup(self) -> None:
        self.client = self.build()

    def teardown(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
