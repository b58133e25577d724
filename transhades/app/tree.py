"""transhades' application supervisor, in OTP's sense: the tree as data, and the entry point.

``child_specs`` lists the children in start order (they stop in reverse): the cache actor, the audio actors, one
actor per provider instance, one per Telegram credential, the dispatcher and the bot. ``start_tree(config)``
starts them under the generic one_for_one supervisor (``actors/supervisor.py``) with the restart policy from
``config.yaml``. ``main`` is what ``python supervisor.py`` (the Procfile's command) runs, like ``transhades run``.
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pykka

from transhades import redaction, sql
from transhades.actors.audio import AudioActor
from transhades.actors.cache import CacheActor
from transhades.actors.dispatcher import DispatcherActor
from transhades.actors.fetcher import FetcherActor
from transhades.actors.provider import ProviderActor
from transhades.actors.speakers import SpeakersActor
from transhades.actors.supervisor import Supervisor
from transhades.audio import prepare as audio_lib
from transhades.audio.arrivals import Arrivals
from transhades.cache.stores import open_store
from transhades.clock import Clock, SystemClock
from transhades.config import Config
from transhades.dispatch.breaker import ProviderBreaker
from transhades.dispatch.jobflow import AUDIO, CACHE, DISPATCHER, FETCH, PROVIDER_PREFIX, SPEAKERS, JobFlow
from transhades.errors import ConfigError
from transhades.links.fetch import LinkFetcher, policy_of
from transhades.messages import GetStatus, MemberChanged, Membership, MemberView, Ping, StopTree, TreeStatus
from transhades.private import private_dir
from transhades.providers import Provider, build_provider
from transhades.speakers.local import LocalDiarizer
from transhades.speakers.local import available as speakers_available
from transhades.supervision.policy import ChildSpec, ChildState, Escalation, RestartPolicy
from transhades.supervision.registry import BOT, Registry

__all__ = ["Supervisor", "Tree", "child_specs", "start_tree", "main"]


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

    tg = config.bot

    sessions = None
    if config.database_url:  # sessions live in PostgreSQL: no machine's disk has to outlive it
        from transhades.telegram.sessions import SessionStore

        sessions = SessionStore(config.database_url)

    token = tg.bot_token
    if not token:  # the service checks this before it starts the tree
        raise ConfigError(["telegram.bot_token is not set; set its variable in the environment or .env "
                           "(see config.yaml)"])

    def make(credential: Any, receive: bool) -> Any:
        return KurigramGateway(credential.name, credential.api_id, credential.api_hash, token,
                               Path(tg.session_dir), receive, tg.downloads_per_credential, sessions=sessions)

    make.sessions = sessions  # type: ignore[attr-defined]  # a cluster front fences their writes with its term
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

    def quiet(self, timeout: float = 30.0) -> bool:
        """Nothing is happening and nothing will: every worker has finished what it held, no job is running or
        waiting, no message waits for a restarting actor, and the bot has nothing left to send. Asked in the
        order messages flow (workers, dispatcher, bot), so what one told the next is queued before it is asked."""
        try:
            children = {child["name"]: child["state"] for child in self.status()}
            if any(state in ("starting", "restarting") for state in children.values()):
                return False
            for name, state in children.items():
                if name not in (DISPATCHER, BOT) and state in ("running", "quarantined"):
                    if self._ask(name, timeout):  # a failed child (given up on) holds nothing
                        return False  # it waits for an answer (the history actor for the cache's)
            status = self._ask(DISPATCHER, timeout, GetStatus())
            in_flight = self._ask(BOT, timeout) if BOT in children else 0
        except (pykka.ActorDeadError, pykka.Timeout):
            return False  # one crashed or is restarting: not quiet yet
        return not (status.active or status.queued or in_flight or self.registry.kept())

    def _ask(self, name: str, timeout: float, message: Any = None) -> Any:
        ref = self.registry.get(name)
        if ref is None:  # a crashed dispatcher or bot leaves the registry before the supervisor hears of it
            raise pykka.ActorDeadError(f"{name} is not registered")
        return ref.ask(message or Ping(), timeout=timeout)

    def drain(self, seconds: float) -> int:
        """Stop intake and give running jobs up to ``seconds`` to be answered. Returns what is still in flight
        (those jobs stay in the journal and are taken up by the next start)."""
        import time

        from transhades.messages import Drain

        deadline = time.monotonic() + seconds
        left = -1
        while True:
            bot = self.registry.get(BOT)
            try:
                left = bot.ask(Drain(), timeout=2.0) if bot is not None else left
            except (pykka.ActorDeadError, pykka.Timeout):
                pass
            if left == 0 or time.monotonic() >= deadline:
                return max(left, 0)
            time.sleep(0.2)

    def stop(self, timeout: float = 25.0) -> None:
        try:
            outcome = self.supervisor.ask(StopTree(max(0.1, timeout - 0.5)), timeout=timeout)
            ABANDONED.extend(name for name, how in outcome.items() if how == "timeout")
            self.supervisor.stop(block=True, timeout=timeout)
        except (pykka.ActorDeadError, pykka.Timeout):
            pass
        if self.temp_root is not None:
            shutil.rmtree(self.temp_root, ignore_errors=True)


# Children that did not stop within their shutdown time (a model still decoding in native threads): the process
# must then leave without the interpreter's finalisation, which would wait on those threads or abort under them
# ("terminate called without an active exception", SIGABRT). transhades.__main__ reads it.
ABANDONED: list[str] = []


def starts(actor: type[pykka.Actor], name: str, **wiring: Any) -> Callable[[Any], pykka.ActorRef]:
    """How a child spec starts each incarnation: ``actor.start(name, monitor, **wiring)``."""
    return lambda monitor: actor.start(name, monitor, **wiring)


def temp_root_of(config: Config) -> Path:
    if config.audio.temp_dir:
        return Path(config.audio.temp_dir) / str(os.getpid())
    return audio_lib.default_temp_root()


def child_specs(config: Config, registry: Registry, flow: JobFlow, clock: Clock,
                provider_factory: ProviderFactory = build_provider,
                on_alert: Callable[[str], None] | None = None,
                gateway_factory: GatewayFactory | None = None, gateways: Registry | None = None,
                preparer: Any = None, faults: Any = None, role: str = "all", relay: Any = None,
                may_take: Callable[[], bool] | None = None) -> list[ChildSpec]:
    """transhades' tree, in start order: cache, audio workers, provider instances, credentials, dispatcher, bot.
    A cluster's worker has no bot (and no session receives updates); a front has only the credentials, the relay
    in the dispatcher's place, and the bot."""
    gateways = gateways if gateways is not None else Registry()
    shutdown = config.supervision.shutdown_seconds
    temp_root = temp_root_of(config)
    telegram = gateway_factory is not None and config.telegram is not None and bool(config.bot.credentials)
    if role == "front":
        from transhades.actors.relay import RelayActor
        from transhades.cluster.roles import cluster_status

        assert gateway_factory is not None and telegram, "a front needs Telegram"
        return [*telegram_specs(config, registry, gateways, gateway_factory, temp_root, shutdown, faults,
                                may_take=may_take),
                ChildSpec(DISPATCHER, DISPATCHER, lambda m: RelayActor.start(DISPATCHER, m, registry=registry,
                                                                             relay=relay, status=cluster_status),
                          shutdown_seconds=shutdown, escalation=Escalation.STOP_TREE),
                *llm_specs(config, registry, shutdown),
                *bot_specs(config, registry, gateways, clock, shutdown, faults, relay)]
    arrivals = Arrivals()  # a large download's ranges as they land, for the preparation that reads it meanwhile
    specs = worker_specs(config, registry, temp_root, provider_factory, preparer, faults, arrivals)
    if telegram:
        assert gateway_factory is not None
        specs += telegram_specs(config, registry, gateways, gateway_factory, temp_root, shutdown, faults,
                                receiving=role == "all")
    specs.append(ChildSpec(DISPATCHER, DISPATCHER, lambda m: DispatcherActor.start(
        DISPATCHER, m, registry=registry, flow=flow, release=lambda job_id: audio_lib.discard(temp_root, job_id),
        alert=on_alert, faults=faults, clock=clock, arrivals=arrivals),
        shutdown_seconds=shutdown, escalation=Escalation.STOP_TREE))
    if telegram and role == "all":
        specs += [*llm_specs(config, registry, shutdown),
                  *bot_specs(config, registry, gateways, clock, shutdown, faults)]
    return specs


def worker_specs(config: Config, registry: Registry, temp_root: Path, provider_factory: ProviderFactory,
                 preparer: Any, faults: Any, arrivals: Arrivals | None = None) -> list[ChildSpec]:
    """The cache, the audio workers and one actor per provider instance."""
    data_dir = Path(config.data_dir)
    a = config.audio
    preparer = preparer or audio_lib.AudioPreparer(temp_root, config.audio_codec, a.bitrate_kbps,
                                                   a.max_duration_seconds,
                                                   a.ffmpeg_timeout_seconds, config.chunk_seconds, a.overlap_seconds,
                                                   int(a.max_job_disk_mb * 1_000_000), a.first_part_seconds)
    shutdown = config.supervision.shutdown_seconds
    specs = [ChildSpec(CACHE, CACHE, lambda m: CacheActor.start(
        CACHE, m, registry=registry, open_store=lambda: open_store(config.cache), faults=faults),
        shutdown_seconds=shutdown)]
    for i in range(1, config.audio.workers + 1):
        name = f"audio-{i}"
        specs.append(ChildSpec(name, AUDIO, starts(AudioActor, name, registry=registry, preparer=preparer,
                                                   faults=faults, arrivals=arrivals), shutdown_seconds=shutdown))
    for provider in config.enabled_providers:
        for i in range(1, provider.instances + 1):
            name = f"{PROVIDER_PREFIX}{provider.name}-{i}"
            specs.append(ChildSpec(
                name, PROVIDER_PREFIX + provider.name,
                starts(ProviderActor, name, registry=registry, build=partial(provider_factory, provider, data_dir),
                       faults=faults),
                shutdown_seconds=shutdown))
    for i in range(1, config.speakers.workers + 1):  # cheap until asked: the model loads on the first transcript
        name = f"{SPEAKERS}-{i}"
        specs.append(ChildSpec(name, SPEAKERS, starts(SpeakersActor, name, registry=registry, faults=faults,
                                                      diarizer=LocalDiarizer(config.speakers.max_speakers)),
                               shutdown_seconds=shutdown))
    if config.links.enabled:
        fetcher = LinkFetcher(policy_of(config.links))
        for i in range(1, config.links.workers + 1):
            name = f"{FETCH}-{i}"
            specs.append(ChildSpec(name, FETCH, starts(FetcherActor, name, registry=registry, fetcher=fetcher,
                                                       temp_root=temp_root, faults=faults), shutdown_seconds=shutdown))
    return specs


def gated_hand_over(registry: Registry, may_take: Callable[[], bool] | None, update: Any) -> bool:
    from transhades.actors.bot import hand_over

    if may_take is not None and not may_take():
        return False
    return hand_over(registry, update)


def telegram_specs(config: Config, registry: Registry, gateways: Registry, gateway_factory: GatewayFactory,
                   temp_root: Path, shutdown: float, faults: Any = None, receiving: bool = True,
                   may_take: Callable[[], bool] | None = None) -> list[ChildSpec]:
    """``may_take``: a front's lease check; an update arriving while it is False is left to Telegram (the next
    front takes it)."""
    from transhades.actors.credential import CredentialActor
    from transhades.dispatch.jobflow import CREDENTIAL_PREFIX

    tg = config.bot
    specs = []
    for index, credential in enumerate(tg.credentials):
        name = CREDENTIAL_PREFIX + credential.name
        receive = receiving and index == 0
        on_update = partial(gated_hand_over, registry, may_take) if receive else None  # the bot's intake
        specs.append(ChildSpec(name, name, starts(CredentialActor, name, registry=registry, gateways=gateways,
                                                  make_gateway=partial(gateway_factory, credential, receive),
                                                  temp_root=temp_root, max_bytes=int(tg.max_file_mb * 1_000_000),
                                                  on_update=on_update, parallel=tg.downloads_per_credential,
                                                  faults=faults),
                               shutdown_seconds=shutdown))
    return specs


def llm_specs(config: Config, registry: Registry, shutdown: float) -> list[ChildSpec]:
    """The language model actors behind /translate and /summary, when ``llm:`` is configured and its key is set."""
    if config.llm is None or not config.llm.enabled:
        return []
    from transhades.actors.llm import LlmActor
    from transhades.llm.client import MODEL_PREFIX, Quarantine, build_model

    llm, quarantine = config.llm, Quarantine()  # one model: a 429 to one actor holds them all
    names = [f"{MODEL_PREFIX}{i}" for i in range(1, llm.instances + 1)]
    build = partial(build_model, llm, quarantine)
    return [ChildSpec(name, "llm", starts(LlmActor, name, registry=registry, build=build), shutdown_seconds=shutdown)
            for name in names]


def bot_specs(config: Config, registry: Registry, gateways: Registry, clock: Clock, shutdown: float,
              faults: Any = None, relay: Any = None) -> list[ChildSpec]:
    """The history actor and the bot, over one set of stores (journal, settings, history) that outlives both. A
    cluster's front (``relay``) claims the journal under its lease's term: a deposed front's writes are refused."""
    from transhades.actors.bot import BotActor
    from transhades.actors.history import HISTORY, HistoryActor
    from transhades.dispatch.jobflow import CREDENTIAL_PREFIX
    from transhades.speakers.names import VoiceBook
    from transhades.telegram.commands import Commands
    from transhades.telegram.desk import DeskRules, FrontDesk
    from transhades.telegram.followups import Followups
    from transhades.telegram.history import History
    from transhades.telegram.journal import Journal
    from transhades.telegram.outbox import Outbox
    from transhades.telegram.settings import UserSettings

    tg = config.bot
    llm = config.llm.instances if config.llm is not None and config.llm.enabled else 0
    rules = DeskRules(tuple((p.name, p.kind) for p in config.enabled_providers), tg.max_file_mb,
                      frozenset(tg.allowed_users), frozenset(tg.admins), user_jobs_per_minute=tg.user_jobs_per_minute,
                      max_duration_seconds=config.audio.max_duration_seconds, llm=llm,
                      max_reply_messages=config.limits.max_reply_messages,
                      max_answer_chars=config.limits.max_answer_chars,
                      commands_per_minute=config.limits.commands_per_minute, links=config.links.enabled,
                      chat_jobs_per_minute=tg.chat_jobs_per_minute, speakers=config.speakers.mode,
                      speakers_told=speakers_available() or any(p.kind == "deepgram" for p in config.enabled_providers),
                      query_seconds=config.limits.query_seconds, vocabulary=config.vocabulary)
    data_dir = private_dir(Path(config.data_dir))
    outbox = Outbox(tg.send_interval_seconds, tg.edit_interval_seconds, tg.send_per_second)
    database = config.database_url  # PostgreSQL when set; SQLite files under data_dir otherwise
    lease = getattr(relay, "lease", None)
    journal = Journal(database or data_dir / "journal.sqlite3", tg.journal_keep_hours * 3600, clock.wall,
                      term=(lambda: lease.term) if lease is not None else None)
    if lease is not None:
        journal.claim(lease.term)
    history = History(database or data_dir / "history.sqlite3", config.history.keep_days, clock.wall)
    settings = UserSettings(database or data_dir / "users.sqlite3")
    voices = VoiceBook(settings.database, config.history.keep_days, clock.wall)  # beside the settings, erased with them
    desk = FrontDesk(rules, settings, outbox, clock.now, tg.status_delay_seconds, journal, history,
                     voices)  # outlives restarts
    local = any(kind == "local" for _, kind in rules.providers)
    own = Outbox()  # the history actor's answers, handed to the bot's outbox
    commands = Commands(rules, settings, own, lambda user: set(), history,
                        Followups(history, own, local, llm, rules.max_reply_messages, rules.max_answer_chars), journal,
                        naming=desk.naming, vocabulary=desk.vocab.book)
    prune = lambda: {"history pruned": history.prune(), "journal pruned": journal.prune(),  # noqa: E731
                     "voiceprints pruned": voices.prune()}
    sender = CREDENTIAL_PREFIX + tg.credentials[0].name
    return [ChildSpec(HISTORY, HISTORY, lambda m: HistoryActor.start(HISTORY, m, registry=registry, commands=commands,
                                                                     clock=clock, prune=prune,
                                                                     erase_cache=cache_eraser(config)),
                      shutdown_seconds=shutdown),
            # without its bot the process cannot do its job: past its restarts it stops the tree, and the process
            # exits 1 for its process supervisor to start it again (OTP's top supervisor giving up)
            ChildSpec(BOT, BOT, lambda m: BotActor.start(BOT, m, registry=registry, gateways=gateways, desk=desk,
                                                         sender=sender, clock=clock, faults=faults),
                      shutdown_seconds=shutdown, escalation=Escalation.STOP_TREE)]


def cache_eraser(config: Config) -> Callable[[str], int] | None:
    """Where no cache actor runs (a cluster's front), /forget erases the shared cache's share itself."""
    if config.cache.backend == "memory":
        return None

    def erase(owner: str) -> int:
        store = open_store(config.cache)
        try:
            return store.forget_owner(owner)
        finally:
            store.close()

    return erase


def start_tree(config: Config, clock: Clock | None = None, provider_factory: ProviderFactory = build_provider,
               rng: random.Random | None = None, on_alert: Callable[[str], None] | None = None,
               gateway_factory: GatewayFactory | None = None, preparer: Any = None, faults: Any = None,
               role: str = "all", relay: Any = None, may_take: Callable[[], bool] | None = None) -> Tree:
    """The whole tree; with ``gateway_factory`` also one actor per Telegram credential and the bot actor. A
    cluster's ``worker`` or ``front`` gets its part of it (``relay``: the front's Relay)."""
    clock = clock or SystemClock()
    redaction.remember(config.secrets())  # before any error text can quote one
    sql.wait_for_the_database(config.supervision.database_wait_seconds)
    registry = Registry(keep_for=frozenset({DISPATCHER, "bot"}))
    breakers = {p.name: ProviderBreaker(p.breaker_failures, p.breaker_seconds) for p in config.enabled_providers}
    upload_limits = {p.name: int(p.max_upload_mb * 1_000_000) for p in config.enabled_providers if p.kind != "local"}
    download_slots = config.bot.downloads_per_credential if config.telegram else 2
    flow = JobFlow(((p.name, p.kind) for p in config.enabled_providers), config.dispatcher, clock.now,
                   breakers=breakers, upload_limits=upload_limits, download_slots=download_slots,
                   provider_slots=1, audio_slots=1,
                   downloads_per_minute=config.bot.downloads_per_minute if config.telegram else 0,
                   languages=config.languages, links_per_user=config.links.per_user)
    temp_root = temp_root_of(config)
    audio_lib.sweep_stale(temp_root)  # what a crashed or killed run left behind
    gateways = Registry()  # credential name -> its running session (the bot sends through the receiving one)
    specs = child_specs(config, registry, flow, clock, provider_factory, on_alert, gateway_factory, gateways,
                        preparer, faults, role, relay, may_take)
    stopped: list[str] = []
    sup = Supervisor.start(specs, RestartPolicy.from_config(config.supervision), clock, registry,
                           listener=DispatcherFeed(registry), rng=rng, on_alert=on_alert,
                           on_tree_stopped=stopped.append)
    sup.ask(TreeStatus(), timeout=30)  # answered only after on_start has started every child
    return Tree(sup, registry, config, flow, stopped, temp_root, gateways)


def main(argv: list[str] | None = None) -> int:
    """``python supervisor.py [--config PATH] [--role all|front|worker] [-v]``: the bot, as ``transhades run``."""
    import argparse

    from transhades.app import service

    parser = argparse.ArgumentParser(prog="python supervisor.py", description="Run the transhades Telegram bot.")
    parser.add_argument("--config", help="config file (default: $TRANSHADES_CONFIG, ./config.yaml)")
    parser.add_argument("--role", choices=("all", "front", "worker"), default="all",
                        help="all: the whole bot (default); front/worker: one part of a cluster (see README)")
    parser.add_argument("-v", "--verbose", action="count", default=0)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return service.main(args.config, args.verbose, start_tree, kurigram_gateways, args.role)


if __name__ == "__main__":
    sys.exit(main())
