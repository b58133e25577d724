"""The bot actor: hands updates and job events to the plain FrontDesk, carries out its actions, and sends what
its outbox lets go, through the receiving credential's session. A FloodWait on sending holds the outbox until
the deadline; nothing is dropped. The desk (and its outbox) outlives a crash of this actor."""

from __future__ import annotations

import logging
from typing import Any

from transhades.actors.base import ExitMonitor, SupervisedActor
from transhades.app import logs
from transhades.clock import Clock
from transhades.dispatch.jobflow import DISPATCHER
from transhades.errors import ProviderUnavailable
from transhades.messages import (
    AskModel,
    CacheReport,
    CacheStats,
    CancelJob,
    Completed,
    Deliver,
    Drain,
    Failed,
    ForgetOwner,
    Handover,
    HistoryWork,
    Incoming,
    JobUpdate,
    ModelAnswer,
    Poisoned,
    StatusReport,
    StatusRequest,
    SubmitJob,
    Tick,
)
from transhades.supervision.contracts import FaultInjector
from transhades.supervision.registry import BOT, Registry
from transhades.telegram.actions import AskStatus, CancelJobs, Offload, StartJob, UseModel
from transhades.telegram.desk import FrontDesk
from transhades.telegram.erasure import ForgetAll
from transhades.telegram.route import Route
from transhades.telegram.sender import Sender

HISTORY = "history"  # the history actor's name (actors/history.py)

log = logging.getLogger("transhades.bot")
intake_log = logging.getLogger("transhades.supervisor")  # where operators already look for it


class ChatListener:
    """A job's listener: its events go to whoever is the bot actor now, with the route to the chat."""

    def __init__(self, registry: Registry, route: Route) -> None:
        self.registry = registry
        self.route = route

    def __call__(self, event: Any) -> None:
        self.registry.tell(BOT, JobUpdate(self.route, event))


class BotActor(SupervisedActor):
    def __init__(self, name: str, monitor: ExitMonitor, *, registry: Registry, gateways: Registry, desk: FrontDesk,
                 sender: str, clock: Clock, faults: FaultInjector | None = None) -> None:
        super().__init__(name, monitor)
        self.faults = faults  # transhades simulate: crash on an update or a job event now and then
        self.keeper = desk
        self.registry = registry
        self.gateways = gateways
        self.desk = desk
        self.sender = sender  # the credential whose session receives updates and sends replies
        self.clock = clock
        self.tick_at: float | None = None

    kept_types = (JobUpdate, Poisoned)  # these live only here; an update is handed again by the session

    def setup(self) -> None:
        self.desk.groups.lookup = self._member_status  # who may change a group's settings: Telegram says
        self.carry_out(self.desk.resume())  # the first incarnation takes up what the journal holds
        self.flush()  # whatever a crashed incarnation left in the outbox

    def deliver(self, message: Any) -> Any:
        try:
            if self.faults is not None and isinstance(message, (Incoming, JobUpdate)):
                self.faults.maybe_crash(self.name)
            return self.receive(message)
        except BaseException:
            if isinstance(message, Incoming) and message.taken is not None:
                message.taken.settle(False)  # the session hands it to the next incarnation
            raise

    def pong(self) -> int:
        return self.desk.in_flight()

    def log_fields(self, message: Any) -> tuple[str | None, Any]:
        if isinstance(message, Incoming):
            user = getattr(message.update, "from_user", None)
            return None, getattr(user, "id", None)
        return super().log_fields(message)

    def receive(self, message: Any) -> Any:
        if isinstance(message, Incoming):
            self.carry_out(self.desk.on_update(message.update))
            if message.taken is not None:
                message.taken.settle(True)
        elif isinstance(message, Poisoned):
            self.desk.on_poisoned(message.update)
        elif isinstance(message, Drain):
            self.desk.closing = True
            self.flush()
            return self.desk.in_flight()
        elif isinstance(message, JobUpdate):
            if isinstance(message.event, (Completed, Failed)):
                outcome = "answered" if isinstance(message.event, Completed) else f"failed: {message.event.error}"
                log.info("job %s", outcome)
            self.desk.on_event(message.route, message.event)
        elif isinstance(message, StatusReport):
            self.desk.status_part(message.context, "status", message.status, self.clock.wall())
        elif isinstance(message, (CacheReport, Deliver)):
            self._reported(message)
        elif isinstance(message, ModelAnswer):
            self.desk.followups.answered(message.context, message.text, message.error)
        elif isinstance(message, Tick):
            self.tick_at = None
        else:
            raise TypeError(f"bot actor got an unknown message {type(message).__name__}")
        self.flush()
        return None

    def _reported(self, message: CacheReport | Deliver) -> None:
        """Answers from other actors: the cache's part of /status or of /forget, the history actor's messages."""
        if isinstance(message, Deliver):
            for item in message.items:
                self.desk.outbox.put(item)
        elif isinstance(message.context, ForgetAll):
            self.desk.commands.forgotten(message.context.with_cache(message.stats.get("erased")))
        else:
            self.desk.status_part(message.context, "cache", message.stats, self.clock.wall())

    def carry_out(self, actions: list) -> None:
        for action in actions:
            if isinstance(action, StartJob):
                logs.bind_job(action.route.job_id, action.route.user_id)
                media = action.request.media
                log.info("job started: %s of %d bytes", media.describe(), getattr(media, "size", 0))
                self.registry.tell(DISPATCHER, SubmitJob(action.request, ChatListener(self.registry, action.route)))
            elif isinstance(action, CancelJobs):
                for job_id in action.job_ids:
                    self.registry.tell(DISPATCHER, CancelJob(job_id))
            elif isinstance(action, UseModel):
                ask = action.ask
                if not self.registry.tell(ask.actor, AskModel(BOT, ask.task, action.text, ask.language, ask)):
                    restarting = ProviderUnavailable("the language model is restarting").because("restarting")
                    self.desk.followups.answered(ask, None, restarting)
            elif isinstance(action, Offload):
                if not self.registry.tell(HISTORY, HistoryWork(action)):  # restarting: done here this once
                    self.carry_out(self.desk.commands.do(action))
            elif isinstance(action, ForgetAll):  # only when done here: the cache erases the user's share
                if not self.registry.tell("cache", ForgetOwner(str(action.user_id), BOT, action)):
                    self.desk.commands.forgotten(action.with_cache(None))
            elif isinstance(action, AskStatus):
                context = self.desk.status_wanted(action.chat_id, action.lang)
                self.registry.tell(DISPATCHER, StatusRequest(BOT, context))
                if not self.registry.tell("cache", CacheStats(BOT, context)):
                    self.desk.status_part(context, "cache", None, self.clock.wall())  # no cache to ask

    def flush(self) -> None:
        gateway = self.gateways.get(self.sender)
        if gateway is not None and not self.desk.username:
            self.desk.username = getattr(gateway, "username", None)
        later = Sender(self.desk.outbox, self.desk.sent).flush(gateway, self.clock.now())
        if later is not None:
            self._tick(later)

    def _member_status(self, chat_id: int, user_id: int) -> str:
        """getChatMember through the session that sends (a session restarting: nobody counts as an admin)."""
        gateway = self.gateways.get(self.sender)
        if gateway is None:
            from pyrogram import errors

            raise errors.RPCError("the sending session is restarting")
        return str(gateway.member_status(chat_id, user_id))

    def _tick(self, at: float) -> None:
        if self.tick_at is not None and self.tick_at <= at:
            return
        self.tick_at = at
        ref = self.actor_ref
        self.clock.call_later(max(0.0, at - self.clock.now()), lambda: _tell(ref, Tick()))


def _tell(ref: Any, message: Any) -> None:
    import pykka

    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        pass


HAND_OVER_SECONDS = 30.0


def hand_over(registry: Registry, update: Any, timeout: float = HAND_OVER_SECONDS, attempts: int = 3) -> bool:
    """The receiving session's handler: give the update to the bot and wait until the bot has taken it (a job
    is in the journal by then), so the session acknowledges to Telegram only what is written down. While the
    bot restarts the registry keeps the update and this waits for the next incarnation; when the bot crashed
    on it, it is handed to the next incarnation again (a bug that crashes on every try gives up after a few)."""
    for _ in range(attempts):
        taken = Handover()
        if not registry.tell(BOT, Incoming(update, taken)):
            return False
        if not taken.done.wait(timeout):
            intake_log.warning("the bot has not taken an update within %.0f s; it stays queued for it", timeout)
            return False
        if taken.ok:
            return True
    intake_log.error("the bot crashed on the same update %d times; its sender is told: %s", attempts,
                     describe_update(update))
    return registry.tell(BOT, Poisoned(update))


def describe_update(update: Any) -> str:
    """One log line about an update: its kind, chat, message and user ids, the media kind; never its content."""
    user = getattr(getattr(update, "from_user", None), "id", None)
    chat = getattr(getattr(update, "chat", None), "id", None)
    kinds = [k for k in ("voice", "audio", "video", "video_note", "document", "text", "data")
             if getattr(update, k, None)]
    return (f"{type(update).__name__} id={getattr(update, 'id', None)} chat={chat} user={user} "
            f"kind={kinds[0] if kinds else 'other'}")
