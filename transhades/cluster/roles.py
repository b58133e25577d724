"""What a process does besides its tree, by role (``transhades run --role all|front|worker``).

- ``all`` (the default): today's single process; nothing here is used.
- ``worker``: its tree has no bot and no receiving session; an ``Intake`` feeds it jobs from the stream.
- ``front``: waits as a standby until it holds the front lease; its tree has the credentials, the relay in the
  dispatcher's place and the bot; an ``EventReader`` brings the workers' events back. A front that loses its
  lease (it was paused past it and another front took over) stops at once, so two fronts never answer.

Every cluster process announces itself every ``ANNOUNCE_SECONDS`` for the front's /status and /metrics.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from transhades.cluster.bus import JobBus
from transhades.cluster.front import EventReader, Relay
from transhades.cluster.lease import Lease
from transhades.cluster.roll import Roll
from transhades.cluster.worker import Intake
from transhades.config import Config
from transhades.dispatch.tasks import DISPATCHER
from transhades.messages import QuarantineGroup, RemoteEvent, SubmitJob
from transhades.snapshot import FlowStatus, MemberStatus, ProcessStatus, StreamStats

log = logging.getLogger("transhades.cluster")
ANNOUNCE_SECONDS = 2.0
REDIS_GRACE_SECONDS = 10.0  # Redis away for longer than this makes the process not ready (/readyz 503)
TIDY_SECONDS = 30.0  # how often the active front deletes the stream consumers of processes that are gone
ROLES = ("all", "front", "worker")


def instance_name(role: str) -> str:
    """Unique per process, readable in /status: role, host, pid and a little randomness (pids repeat)."""
    return f"{role}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:4]}"


def redis_client(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10, health_check_interval=30)


class ClusterRole:
    """The parts every cluster process has: the bus, its announcement, and a stop for its own threads."""

    role = ""

    def __init__(self, cfg: Config, client: Any | None = None) -> None:
        cluster = cfg.cluster
        assert cluster.redis_url, "checked by the service before a role is made"
        self.cfg = cfg
        self.instance = instance_name(self.role)
        self.redis = client or redis_client(cluster.redis_url)
        self.bus = JobBus(self.redis, cluster.prefix, cluster.lease_seconds, cluster.max_deliveries).ensure()
        self.roll = Roll(self.redis, cluster.prefix, self.instance, self.role, stale_seconds=10 * ANNOUNCE_SECONDS)
        self.stopping = threading.Event()
        self.lost = threading.Event()  # the front's lease went to another front, or ran out
        self.lost_because = ""
        self.state = "running"
        self.redis_down_since: float | None = None
        self.redis_trouble = "the cluster's Redis has not answered"  # what the last failure was, for /readyz

    def problem(self) -> str | None:
        """Why this process is not ready as far as the cluster goes (for /readyz), or None."""
        since = self.redis_down_since
        if since is not None and time.monotonic() - since > REDIS_GRACE_SECONDS:
            return f"{self.redis_trouble} for {time.monotonic() - since:.0f} s"
        return None

    def wait(self, stop: threading.Event) -> bool:
        return True

    def tree_options(self) -> dict[str, Any]:
        return {"role": self.role}

    def started(self, tree: Any) -> None:
        threading.Thread(target=self._announce, args=(tree,), name="transhades-announce", daemon=True).start()

    def jobs(self) -> int:
        return 0

    def close(self) -> None:
        self.stopping.set()
        try:
            self.roll.leave()
        except Exception:
            pass  # Redis is gone: the record goes stale on its own

    def _announce(self, tree: Any) -> None:
        tidied = time.monotonic()
        while not self.stopping.is_set():
            try:
                children = _children(tree)
                self.roll.announce(self.state, self.jobs(), self.cfg.dispatcher.max_concurrent_jobs
                                   if self.role == "worker" else 0, children)
                everyone = self.roll.everyone()
                if self.role == "front" and time.monotonic() - tidied > TIDY_SECONDS:
                    tidied = time.monotonic()
                    gone = self.bus.tidy({p.instance for p in everyone} | {self.instance})
                    if gone:
                        log.info("deleted %d stream consumer(s) of processes that are gone", gone)
                self.redis_down_since = None
                others = [p for p in everyone if p.instance != self.instance]
                for group, seconds, reason in quarantines_to_share(children, others):
                    log.info("%s is quarantined for %.0f s elsewhere in the cluster (%s); here too", group, seconds,
                             reason)
                    tree.supervisor.tell(QuarantineGroup(group, seconds, reason))
            except Exception as exc:
                if self.redis_down_since is None:
                    self.redis_down_since = time.monotonic()
                self.redis_trouble = redis_trouble(exc)
                log.debug("could not announce this process: %s", exc)
            self.stopping.wait(ANNOUNCE_SECONDS)


class WorkerRole(ClusterRole):
    role = "worker"
    intake: Intake | None = None

    def started(self, tree: Any) -> None:
        def submit(request: Any, listener: Callable[[Any], None]) -> None:
            tree.tell_dispatcher(SubmitJob(request, listener))

        self.intake = Intake(self.bus, self.instance, submit, self.cfg.dispatcher.max_concurrent_jobs,
                             self.cfg.cluster.lease_seconds).start()
        super().started(tree)
        log.info("worker %s is taking jobs from the stream", self.instance)

    def jobs(self) -> int:
        return self.intake.held() if self.intake else 0

    def drain(self, seconds: float) -> int:
        """Finish what can be finished within ``seconds``; hand the rest back to the stream at once."""
        self.state = "stopping"
        if self.intake is None:
            return 0
        handed = self.intake.stop(seconds)
        if handed:
            log.info("stopping: %d unfinished job(s) handed back to the stream for other workers", handed)
        return 0


class FrontRole(ClusterRole):
    role = "front"
    reader: EventReader | None = None

    def __init__(self, cfg: Config, client: Any | None = None) -> None:
        super().__init__(cfg, client)
        self.lease = Lease(self.redis, f"{cfg.cluster.prefix}:front", self.instance, cfg.cluster.lease_seconds)
        self.relay = Relay(self.bus, cfg.dispatcher.per_user_limit)
        self.relay.roll = self.roll
        self.relay.lease = self.lease
        self.doubted = False

    def wait(self, stop: threading.Event) -> bool:
        def standby(holder: str | None) -> None:
            log.info("standby: front %s is active; this one takes over when it stops", holder or "(none)")
            try:
                self.roll.announce("standby", 0, 0, [])
            except Exception:
                pass

        held = self.lease.wait(stop, on_wait=standby)
        if held:  # renewed from now on: a tree that starts slowly must not let the lease run out meanwhile
            self.lease.keep(self.stopping, self._lost)
            log.info("front %s is active", self.instance)
        return held

    def tree_options(self) -> dict[str, Any]:
        return {"role": "front", "relay": self.relay, "may_take": self.may_act}

    def may_act(self) -> bool:
        """May this front take an update, read an event or publish now? Not once its lease is in doubt."""
        if self.lost.is_set() or self.lease.in_doubt():
            if not self.doubted:
                self.doubted = True
                log.warning("front %s: the lease is in doubt (not renewed for %.1f s); taking no update", self.instance,
                            time.monotonic() - self.lease.renewed_at)
            return False
        self.doubted = False
        return True

    def started(self, tree: Any) -> None:
        self.reader = EventReader(self.bus, self.instance,
                                  lambda entry_id, event: tree.registry.tell(DISPATCHER, RemoteEvent(entry_id, event)),
                                  lambda message: tree.registry.tell(DISPATCHER, message), self.may_act)
        self.reader.start()
        super().started(tree)

    def _lost(self, why: str) -> None:
        log.error("%s; stopping so that only one front answers", why)
        self.lost_because = why
        self.lost.set()

    def jobs(self) -> int:
        return self.relay.active

    def close(self) -> None:
        super().close()
        if self.reader is not None:
            self.reader.stop()
        try:
            if not self.lost.is_set():
                self.lease.release()  # a standby takes over now, not after the lease runs out
        except Exception:
            pass


def make_role(name: str, cfg: Config) -> ClusterRole | None:
    return {"worker": WorkerRole, "front": FrontRole}[name](cfg) if name != "all" else None


def cluster_status(relay: Relay) -> FlowStatus:
    """The whole cluster as the front sees it: every process's actors (named ``actor@process``), the jobs the
    front waits for, and the streams."""
    processes = tuple(relay.roll.everyone())
    streams = StreamStats(**relay.bus.stats())
    groups: dict[str, list[MemberStatus]] = {}
    for process in processes:
        for member in process.members:
            groups.setdefault(member.group, []).append(replace(member, name=f"{member.name}@{process.instance}"))
    return FlowStatus(active=relay.active, queued=streams.jobs_waiting,
                      max_active=sum(p.capacity for p in processes), counters=dict(relay.counters), groups=groups,
                      processes=processes, streams=streams)


def quarantines_to_share(own: list[dict[str, Any]], others: list[ProcessStatus]) -> list[tuple[str, float, str]]:
    """(group, seconds, reason) for each group another process holds quarantined (a provider's 429 or open breaker,
    a credential's FloodWait) while this process still uses it: the same provider, or a session of the same
    name, must not be hammered from here meanwhile."""
    running = {c["group"] for c in own if c["state"] == "running"}
    out: dict[str, tuple[float, str]] = {}
    for process in others:
        for member in process.members:
            seconds = member.quarantined_for or 0.0
            if member.group in running and member.state == "quarantined" and seconds > 1.0:
                if seconds > out.get(member.group, (0.0, ""))[0]:
                    out[member.group] = (seconds, f"quarantined on {process.instance}")
    return [(group, seconds, reason) for group, (seconds, reason) in sorted(out.items())]


def _children(tree: Any) -> list[dict[str, Any]]:
    now = time.monotonic()
    out = []
    for child in tree.status():
        until = child.get("quarantined_until")
        out.append({"name": child["name"], "group": child["group"], "state": child["state"],
                    "quarantined_for": until - now if until and until > now else None})
    return out


def redis_trouble(error: Exception) -> str:
    """What is wrong with Redis, as /readyz says it: an error it answers with (out of memory, read-only, a script
    refused) is not silence."""
    import redis

    if isinstance(error, redis.exceptions.ResponseError):
        first = (str(error).splitlines() or ["an error"])[0][:120]
        if isinstance(error, getattr(redis.exceptions, "OutOfMemoryError", ())):
            return f"the cluster's Redis is out of memory ({first})"
        return f"the cluster's Redis answers with errors ({first})"
    return "the cluster's Redis has not answered"
