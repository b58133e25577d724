"""transhades' entry point and supervision.

``Supervisor`` is a generic one_for_one supervisor for pykka actors, with Erlang/OTP semantics (restart
types, restart intensity within a period, exponential backoff with jitter, escalation) and quarantine until a
deadline, which is not a crash. Its policy is data (``transhades.supervision``); it knows its children only
through their ``ChildSpec``.

``start_tree(config)`` builds transhades' own tree from ``config.yaml``: the cache actor, the audio actors,
one actor per provider instance, and the dispatcher, started in that order and stopped in reverse.

``python supervisor.py`` (the Procfile's command) runs the bot, like ``transhades run``.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import pykka

from actors.audio import AudioActor
from actors.base import ExitMonitor
from actors.cache import CacheActor
from actors.dispatcher import DispatcherActor
from actors.provider import ProviderActor
from transhades import audio as audio_lib
from transhades import redaction
from transhades.breaker import ProviderBreaker
from transhades.cache import open_store
from transhades.clock import Clock, SystemClock
from transhades.config import Config
from transhades.jobflow import AUDIO, CACHE, DISPATCHER, PROVIDER_PREFIX, JobFlow
from transhades.messages import (
    ChildExited,
    MemberChanged,
    Membership,
    MemberView,
    QuarantineGroup,
    QuarantineOver,
    RestartDue,
    StopTree,
    TreeStatus,
)
from transhades.private import private_dir
from transhades.providers import Provider, build_provider
from transhades.registry import Registry
from transhades.supervision import (
    ChildRecord,
    ChildSpec,
    ChildState,
    Escalate,
    Escalation,
    LetRest,
    RestartAfter,
    RestartPolicy,
)

log = logging.getLogger("transhades.supervisor")

SUPERVISOR = "supervisor"


class TreeListener(Protocol):
    def member_changed(self, view: MemberView, table: tuple[MemberView, ...]) -> None: ...


class Supervisor(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self, specs: list[ChildSpec], policy: RestartPolicy, clock: Clock, registry: Registry,
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
                name = record.spec.name
                self.clock.call_later(message.seconds, lambda n=name, u=until: self._tell_self(QuarantineOver(n, u)))
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
        import time

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


# ================================================================================================ the tree


class DispatcherFeed:
    """Keeps the dispatcher's view of the tree current: the whole table when it (re)starts, changes after."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def member_changed(self, view: MemberView, table: tuple[MemberView, ...]) -> None:
        if view.name == DISPATCHER:
            if view.state == ChildState.RUNNING.value:
                self.registry.tell(DISPATCHER, Membership(tuple(v for v in table if v.name != DISPATCHER)))
        else:
            self.registry.tell(DISPATCHER, MemberChanged(view))


ProviderFactory = Callable[[Any, Path], Provider]
GatewayFactory = Callable[[Any, bool], Any]  # (CredentialConfig, receives updates) -> Gateway


def kurigram_gateways(config: Config) -> GatewayFactory:
    from transhades.telegram.gateway import KurigramGateway

    tg = config.telegram

    def make(credential: Any, receive: bool) -> Any:
        return KurigramGateway(credential.name, credential.api_id, credential.api_hash, tg.bot_token,
                               Path(tg.session_dir), receive, tg.downloads_per_credential)

    return make


@dataclass
class Tree:
    """A running tree: the handle the CLI, the bot and the tests hold."""

    supervisor: Any
    registry: Registry
    config: Config
    flow: JobFlow
    stopped_reason: list[str] = field(default_factory=list)
    temp_root: Path | None = None
    gateways: Registry | None = None

    @property
    def dispatcher(self) -> Any:
        return self.registry.get(DISPATCHER)

    def tell_dispatcher(self, message: Any) -> bool:
        return self.registry.tell(DISPATCHER, message)

    def status(self) -> list[dict[str, Any]]:
        return self.supervisor.ask(TreeStatus(), timeout=10)

    def stop(self, timeout: float = 25.0) -> None:
        try:
            self.supervisor.ask(StopTree(max(0.1, timeout - 0.5)), timeout=timeout)
            self.supervisor.stop(block=True, timeout=timeout)
        except (pykka.ActorDeadError, pykka.Timeout):
            pass
        if self.temp_root is not None:
            shutil.rmtree(self.temp_root, ignore_errors=True)


def temp_root_of(config: Config) -> Path:
    if config.audio.temp_dir:
        return Path(config.audio.temp_dir) / str(os.getpid())
    return audio_lib.default_temp_root()


def child_specs(config: Config, registry: Registry, flow: JobFlow, clock: Clock,
                provider_factory: ProviderFactory = build_provider,
                on_alert: Callable[[str], None] | None = None,
                gateway_factory: GatewayFactory | None = None, gateways: Registry | None = None,
                preparer: Any = None, faults: Any = None) -> list[ChildSpec]:
    gateways = gateways if gateways is not None else Registry()
    """transhades' tree, in start order: cache, audio workers, provider instances, dispatcher."""
    data_dir = Path(config.data_dir)
    temp_root = temp_root_of(config)
    a = config.audio
    preparer = preparer or audio_lib.AudioPreparer(temp_root, a.codec, a.bitrate_kbps, a.max_duration_seconds,
                                                   a.ffmpeg_timeout_seconds, a.chunk_seconds, a.overlap_seconds,
                                                   int(a.max_job_disk_mb * 1_000_000))
    shutdown = config.supervision.shutdown_seconds
    specs = [ChildSpec(CACHE, CACHE, lambda m: CacheActor.start(
        CACHE, m, registry, lambda: open_store(config.cache), faults), shutdown_seconds=shutdown)]
    for i in range(1, config.audio.workers + 1):
        name = f"audio-{i}"
        specs.append(ChildSpec(name, AUDIO, lambda m, n=name: AudioActor.start(n, m, registry, preparer, faults),
                               shutdown_seconds=shutdown))
    for provider in config.enabled_providers:
        for i in range(1, provider.instances + 1):
            name = f"{PROVIDER_PREFIX}{provider.name}-{i}"
            specs.append(ChildSpec(
                name, PROVIDER_PREFIX + provider.name,
                lambda m, n=name, p=provider: ProviderActor.start(n, m, registry, lambda: provider_factory(p, data_dir),
                                                                  faults),
                shutdown_seconds=shutdown))
    if gateway_factory is not None and config.telegram and config.telegram.credentials:
        specs += telegram_specs(config, registry, gateways, gateway_factory, temp_root, shutdown, faults)
    specs.append(ChildSpec(DISPATCHER, DISPATCHER, lambda m: DispatcherActor.start(
        DISPATCHER, m, registry, flow, lambda job_id: audio_lib.discard(temp_root, job_id), on_alert, faults=faults,
        clock=clock),
        shutdown_seconds=shutdown, escalation=Escalation.STOP_TREE))
    if gateway_factory is not None and config.telegram and config.telegram.credentials:
        specs.append(bot_spec(config, registry, gateways, clock, shutdown, faults))
    return specs


def telegram_specs(config: Config, registry: Registry, gateways: Registry, gateway_factory: GatewayFactory,
                   temp_root: Path, shutdown: float, faults: Any = None) -> list[ChildSpec]:
    from actors.credential import CredentialActor
    from transhades.jobflow import CREDENTIAL_PREFIX

    tg = config.telegram
    specs = []
    for index, credential in enumerate(tg.credentials):
        name = CREDENTIAL_PREFIX + credential.name
        receive = index == 0
        on_update = (lambda update: hand_over(registry, update)) if receive else None
        specs.append(ChildSpec(name, name, lambda m, n=name, c=credential, r=receive, u=on_update: CredentialActor.start(
            n, m, registry, gateways, lambda: gateway_factory(c, r), temp_root, int(tg.max_file_mb * 1_000_000), u,
            tg.downloads_per_credential, faults),
            shutdown_seconds=shutdown))
    return specs


HAND_OVER_SECONDS = 30.0


def hand_over(registry: Registry, update: Any, timeout: float = HAND_OVER_SECONDS, attempts: int = 3) -> bool:
    """The receiving session's handler: give the update to the bot and wait until the bot has taken it (a job
    is in the journal by then), so the session acknowledges to Telegram only what is written down. While the
    bot restarts the registry keeps the update and this waits for the next incarnation; when the bot crashed
    on it, it is handed to the next incarnation again (a bug that crashes on every try gives up after a few)."""
    from transhades.messages import Handover, Incoming, Poisoned

    for _ in range(attempts):
        taken = Handover()
        if not registry.tell("bot", Incoming(update, taken)):
            return False
        if not taken.done.wait(timeout):
            log.warning("the bot has not taken an update within %.0f s; it stays queued for it", timeout)
            return False
        if taken.ok:
            return True
    log.error("the bot crashed on the same update %d times; its sender is told: %s", attempts, describe_update(update))
    return registry.tell("bot", Poisoned(update))


def describe_update(update: Any) -> str:
    """One log line about an update: its kind, chat, message and user ids, the media kind; never its content."""
    user = getattr(getattr(update, "from_user", None), "id", None)
    chat = getattr(getattr(update, "chat", None), "id", None)
    kinds = [k for k in ("voice", "audio", "video", "video_note", "document", "text", "data") if getattr(update, k, None)]
    return (f"{type(update).__name__} id={getattr(update, 'id', None)} chat={chat} user={user} "
            f"kind={kinds[0] if kinds else 'other'}")


def bot_spec(config: Config, registry: Registry, gateways: Registry, clock: Clock, shutdown: float,
             faults: Any = None) -> ChildSpec:
    from actors.bot import BOT, BotActor
    from transhades.jobflow import CREDENTIAL_PREFIX
    from transhades.telegram.desk import DeskRules, FrontDesk
    from transhades.telegram.settings import UserSettings

    tg = config.telegram
    rules = DeskRules(tuple((p.name, p.kind) for p in config.enabled_providers), tg.max_file_mb,
                      frozenset(tg.allowed_users), frozenset(tg.admins), user_jobs_per_minute=tg.user_jobs_per_minute,
                      max_duration_seconds=config.audio.max_duration_seconds)
    from transhades.telegram.journal import Journal
    from transhades.telegram.outbox import Outbox

    data_dir = private_dir(Path(config.data_dir))
    outbox = Outbox(tg.send_interval_seconds, tg.edit_interval_seconds, tg.send_per_second)
    journal = Journal(data_dir / "journal.sqlite3", tg.journal_keep_hours * 3600, clock.wall)
    desk = FrontDesk(rules, UserSettings(data_dir / "users.sqlite3"), outbox, clock.now,
                     tg.status_delay_seconds, journal)  # outlives bot restarts
    sender = CREDENTIAL_PREFIX + tg.credentials[0].name
    return ChildSpec(BOT, BOT, lambda m: BotActor.start(BOT, m, registry, gateways, desk, sender, clock, faults),
                     shutdown_seconds=shutdown)


def start_tree(config: Config, clock: Clock | None = None, provider_factory: ProviderFactory = build_provider,
               rng: random.Random | None = None, on_alert: Callable[[str], None] | None = None,
               gateway_factory: GatewayFactory | None = None, preparer: Any = None, faults: Any = None) -> Tree:
    """The whole tree; with ``gateway_factory`` also one actor per Telegram credential and the bot actor."""
    clock = clock or SystemClock()
    redaction.remember(config.secrets())  # before any error text can quote one
    registry = Registry(keep_for=frozenset({DISPATCHER, "bot"}))
    breakers = {p.name: ProviderBreaker(p.breaker_failures, p.breaker_seconds) for p in config.enabled_providers}
    upload_limits = {p.name: int(p.max_upload_mb * 1_000_000) for p in config.enabled_providers if p.kind != "local"}
    download_slots = config.telegram.downloads_per_credential if config.telegram else 2
    flow = JobFlow(((p.name, p.kind) for p in config.enabled_providers), config.dispatcher, clock.now,
                   breakers=breakers, upload_limits=upload_limits, download_slots=download_slots,
                   provider_slots=1, audio_slots=1,
                   downloads_per_minute=config.telegram.downloads_per_minute if config.telegram else 0,
                   languages=config.languages)
    temp_root = temp_root_of(config)
    audio_lib.sweep_stale(temp_root)  # what a crashed or killed run left behind
    gateways = Registry()  # credential name -> its running session (the bot sends through the receiving one)
    specs = child_specs(config, registry, flow, clock, provider_factory, on_alert, gateway_factory, gateways,
                        preparer, faults)
    stopped: list[str] = []
    sup = Supervisor.start(specs, RestartPolicy.from_config(config.supervision), clock, registry,
                           DispatcherFeed(registry), rng, on_alert, stopped.append)
    sup.ask(TreeStatus(), timeout=30)  # answered only after on_start has started every child
    return Tree(sup, registry, config, flow, stopped, temp_root, gateways)


def main(argv: list[str] | None = None) -> int:
    from transhades.cli import main as cli_main

    return cli_main(["run", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
