"""/healthz, /readyz and Prometheus /metrics on one small HTTP server.

It reads the system's state at request time by asking the supervisor and the dispatcher (asks from outside the
actor system, with a timeout), so the numbers are the same ones /status shows and nothing is counted twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from transhades.messages import GetStatus
from transhades.snapshot import CREDENTIAL, PROVIDER, FlowStatus

log = logging.getLogger("transhades.health")
ASK_SECONDS = 2.0


def snapshot(tree: Any) -> tuple[list[dict], FlowStatus] | None:
    try:
        return tree.status(), tree.dispatcher.ask(GetStatus(), timeout=ASK_SECONDS)
    except Exception:  # the supervisor or dispatcher is gone or stuck: not healthy, not ready
        return None


VITAL = ("bot", "dispatcher", "history")  # a process without one of these cannot do its job
GRACE_SECONDS = 10.0  # a database or Redis away for longer than this makes the process not ready


class Readiness:
    """/readyz, by the README's rules: not ready while the bot, the dispatcher or the history actor restarts or has
    failed, or no provider or credential is usable; a server (``checks``) or the dispatcher itself not answering
    makes it not ready only once that has lasted ``grace`` seconds (a Redis or PostgreSQL restart shorter than that,
    during which a front's dispatcher may be slow to answer, keeps the process in rotation)."""

    def __init__(self, tree: Any, checks: Sequence[Callable[[], str | None]] = (), grace: float = GRACE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.tree, self.checks, self.grace, self.clock = tree, checks, grace, clock
        self.silent_since: float | None = None  # when the dispatcher first did not answer, in this run of silence

    def __call__(self) -> tuple[bool, str]:
        taken = snapshot(self.tree)
        if taken is not None:
            self.silent_since = None
            return readiness(self.tree, self.checks, taken)
        now = self.clock()
        self.silent_since = self.silent_since if self.silent_since is not None else now
        silent = now - self.silent_since
        if silent < self.grace:
            return True, f"ready (the dispatcher has not answered for {silent:.0f} s)"
        return False, f"the dispatcher has not answered for {silent:.0f} s"


def readiness(tree: Any, checks: Sequence[Callable[[], str | None]] = (),
              taken: tuple[list[dict], FlowStatus] | None = None) -> tuple[bool, str]:
    """One look at the tree (``taken``: a snapshot already made); see :class:`Readiness` for the grace."""
    taken = taken or snapshot(tree)
    if taken is None:
        return False, "the dispatcher does not answer"
    children, status = taken
    for child in children:
        if child["name"] in VITAL and child["state"] in ("restarting", "failed", "starting"):
            return False, f"the {child['name']} is {child['state']}"
    for check in checks:
        problem = check()
        if problem:
            return False, problem
    if not status.any_usable(PROVIDER):
        return False, "no transcription provider is usable"
    if tree.config.telegram is not None and status.members(CREDENTIAL) and not status.any_usable(CREDENTIAL):
        return False, "no Telegram credential is usable"
    return True, "ready"


class Unreachable:
    """A check for /readyz: a server (PostgreSQL) asked at each probe; a problem once it has not answered for
    ``grace`` seconds in a row (a restart that takes a few seconds does not take the process out of rotation)."""

    def __init__(self, what: str, probe: Callable[[], str | None], grace: float = GRACE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.probe, self.grace, self.clock = what, probe, grace, clock
        self.since: float | None = None

    def __call__(self) -> str | None:
        why = self.probe()
        if why is None:
            self.since = None
            return None
        now = self.clock()
        self.since = self.since if self.since is not None else now
        if now - self.since < self.grace:
            return None
        return f"{self.what} has not answered for {now - self.since:.0f} s ({why})"


class TreeCollector:
    """Prometheus metrics, read from the running tree at scrape time."""

    def __init__(self, tree: Any) -> None:
        self.tree = tree

    def collect(self):
        taken = snapshot(self.tree)
        if taken is None:
            return
        children, status = taken
        jobs = CounterMetricFamily("transhades_jobs", "Jobs that ended, by outcome", labels=["outcome"])
        jobs.add_metric(["completed"], status.count("completed"))
        jobs.add_metric(["failed"], status.count("failed"))
        yield jobs
        submitted = CounterMetricFamily("transhades_jobs_submitted", "Jobs accepted by the dispatcher")
        submitted.add_metric([], status.count("submitted"))
        yield submitted
        histogram = HistogramMetricFamily("transhades_job_duration_seconds", "From submission to the final answer")
        # never empty: prometheus-client 0.26 fails on a histogram without buckets (a front times no jobs itself)
        histogram.add_metric([], list(status.durations.buckets) or [("+Inf", 0)], status.durations.sum)
        yield histogram
        cache = CounterMetricFamily("transhades_cache_lookups", "Cache lookups, by result", labels=["result"])
        cache.add_metric(["hit"], status.count("cache_hits"))
        cache.add_metric(["miss"], status.count("cache_misses"))
        yield cache
        queue = GaugeMetricFamily("transhades_queue_length", "Jobs waiting for admission")
        queue.add_metric([], status.queued)
        yield queue
        active = GaugeMetricFamily("transhades_jobs_active", "Jobs being worked on")
        active.add_metric([], status.active)
        yield active
        requests = CounterMetricFamily("transhades_credential_requests", "Downloads given to each Telegram credential",
                                       labels=["credential"])
        downloads = CounterMetricFamily("transhades_credential_downloads",
                                        "Downloads each Telegram credential finished", labels=["credential"])
        for name, stats in sorted(status.credentials.items()):
            requests.add_metric([name.split(":", 1)[-1]], stats.requests)
            downloads.add_metric([name.split(":", 1)[-1]], stats.downloads)
        yield requests
        yield downloads
        restarts = CounterMetricFamily("transhades_actor_restarts", "Actor restarts", labels=["actor", "kind"])
        quarantines = CounterMetricFamily("transhades_actor_quarantines", "Quarantines (FloodWait, rate limits)",
                                          labels=["actor", "kind"])
        state = GaugeMetricFamily("transhades_actor_state", "1 for the state each actor is in",
                                  labels=["actor", "kind", "state"])
        for child in children:
            kind = child["group"].split(":")[0]
            restarts.add_metric([child["name"], kind], child.get("total_restarts", 0))
            quarantines.add_metric([child["name"], kind], child.get("total_quarantines", 0))
            state.add_metric([child["name"], kind, child["state"]], 1)
        yield restarts
        yield quarantines
        yield state
        breaker = GaugeMetricFamily("transhades_provider_breaker_open", "1 while a provider's breaker is not closed",
                                    labels=["provider"])
        for name, info in status.providers.items():
            breaker.add_metric([name], 0 if info.breaker == "closed" else 1)
        yield breaker
        yield from cluster_metrics(status)


def cluster_metrics(status: FlowStatus) -> Iterator[GaugeMetricFamily]:
    """A cluster's processes and streams, as the front reads them from Redis."""
    if status.streams is not None:
        streams = GaugeMetricFamily("transhades_stream_entries",
                                    "Entries in the cluster's streams, by what they wait for",
                                    labels=["stream", "state"])
        streams.add_metric(["jobs", "waiting"], status.streams.jobs_waiting)
        streams.add_metric(["jobs", "pending"], status.streams.jobs_pending)
        streams.add_metric(["results", "pending"], status.streams.results_pending)
        streams.add_metric(["dead", "letters"], status.streams.dead_letters)
        yield streams
        oldest = GaugeMetricFamily("transhades_oldest_job_seconds",
                                   "Age of the oldest job in the cluster's stream not finished yet")
        oldest.add_metric([], status.streams.oldest_job_seconds)
        yield oldest
        yield _lease_held(1)  # only the active front reads the streams
    if status.processes:
        processes = GaugeMetricFamily("transhades_cluster_process_jobs", "Jobs each process of the cluster works on",
                                      labels=["process", "role", "state"])
        for p in status.processes:
            processes.add_metric([p.instance, p.role, p.state], p.jobs)
        yield processes


class StandbyCollector:
    """A standby front's one metric: it does not hold the front lease (it waits for it)."""

    def collect(self):
        yield _lease_held(0)


def _lease_held(value: int) -> GaugeMetricFamily:
    held = GaugeMetricFamily("transhades_front_lease_held", "1 on the active front of a cluster, 0 on a standby")
    held.add_metric([], value)
    return held


class HealthServer:
    """``tree`` None: a standby front, alive (/healthz 200), not ready (/readyz 503, saying so), with /metrics."""

    def __init__(self, tree: Any, host: str = "127.0.0.1", port: int = 8080,
                 checks: Sequence[Callable[[], str | None]] = ()) -> None:
        registry = CollectorRegistry()
        registry.register(TreeCollector(tree) if tree is not None else StandbyCollector())
        ready_now = Readiness(tree, checks)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/healthz":
                    alive = tree is None or tree.supervisor.is_alive()
                    self._send(200 if alive else 503, "ok\n" if alive else "the supervisor is not running\n")
                elif path == "/readyz" and tree is None:
                    self._send(503, "standby: another front is active; this one takes over when it stops\n")
                elif path == "/readyz":
                    ready, why = ready_now()
                    self._send(200 if ready else 503, why + "\n")
                elif path == "/metrics":
                    self._send(200, generate_latest(registry).decode(), "text/plain; version=0.0.4")
                else:
                    self._send(404, "not found; try /healthz, /readyz or /metrics\n")

            def _send(self, code: int, body: str, ctype: str = "text/plain; charset=utf-8") -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="transhades-http", daemon=True)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def start(self) -> HealthServer:
        self.thread.start()
        log.info("health and metrics on port %d", self.port)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
