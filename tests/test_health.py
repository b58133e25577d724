"""/healthz, /readyz and /metrics against a running tree, over real HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from conftest import wait_for
from test_tree import Client, Script, tree_config

from transhades.app.health import HealthServer
from transhades.messages import Completed, QuarantineGroup


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def served(tmp_path):
    from transhades.app.tree import start_tree

    tree = start_tree(tree_config(tmp_path), provider_factory=Script().factory)
    server = HealthServer(tree, "127.0.0.1", 0).start()
    yield tree, server.port
    server.stop()
    tree.stop()


def test_metrics_count_jobs_durations_actors_and_cache(served, tone):
    tree, port = served
    client = Client(tree)
    client.submit("m1", tone)
    assert isinstance(client.result("m1"), Completed)
    code, text = get(port, "/metrics")
    assert code == 200
    assert 'transhades_jobs_total{outcome="completed"} 1.0' in text
    assert "transhades_job_duration_seconds_count 1.0" in text
    assert 'transhades_cache_lookups_total{result="miss"} 1.0' in text
    assert 'transhades_actor_state{actor="dispatcher",kind="dispatcher",state="running"} 1.0' in text
    assert 'transhades_actor_restarts_total{actor="provider:alpha-1",kind="provider"} 0.0' in text
    assert "transhades_queue_length 0.0" in text


def test_health_and_readiness_follow_the_tree(served):
    tree, port = served
    assert get(port, "/healthz") == (200, "ok\n")
    assert get(port, "/readyz") == (200, "ready\n")
    for group in ("provider:alpha", "provider:beta"):
        tree.supervisor.tell(QuarantineGroup(group, 60, "429"))
    wait_for(lambda: get(port, "/readyz")[0] == 503, what="not ready while every provider is quarantined")
    assert get(port, "/readyz") == (503, "no transcription provider is usable\n")
    assert get(port, "/nope")[0] == 404
    tree.stop()
    assert get(port, "/healthz")[0] == 503


def test_metrics_answer_before_any_job_has_ended(served):
    """An empty duration histogram (a fresh process, or a front, which times no jobs itself) must not break the
    scrape: prometheus-client 0.26 fails on a histogram without buckets."""
    _, port = served
    code, text = get(port, "/metrics")
    assert code == 200 and "transhades_job_duration_seconds_count 0.0" in text


SCRAPE = """
import sys
from prometheus_client import CollectorRegistry, generate_latest
from transhades.app.health import TreeCollector
from transhades.snapshot import Durations, FlowStatus, StreamStats

class Tree:  # the collector's two questions, answered as a front with no jobs yet and as a busy worker
    def __init__(self, status): self.status_now = status
    def status(self): return [{"name": "dispatcher", "group": "dispatcher", "state": "running"}]
    @property
    def dispatcher(self): return self
    def ask(self, message, timeout): return self.status_now

for status in (FlowStatus(streams=StreamStats(1, 2, 3, 4)),
               FlowStatus(durations=Durations((("1.0", 2), ("+Inf", 3)), 4.5))):
    registry = CollectorRegistry()
    registry.register(TreeCollector(Tree(status)))
    text = generate_latest(registry).decode()
    assert "transhades_job_duration_seconds_count" in text, text
print("ok")
"""


@pytest.mark.slow
@pytest.mark.parametrize("version", ["0.20.0", "0.26.0"])
def test_metrics_render_with_the_oldest_and_newest_prometheus_client_setup_cfg_allows(tmp_path, version):
    import os
    import subprocess
    import sys

    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                                f"prometheus-client=={version}"], capture_output=True, text=True, timeout=300)
    if installed.returncode != 0:
        pytest.skip(f"cannot install prometheus-client {version}: {installed.stderr.strip()[-200:]}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", "import prometheus_client, sys; print(prometheus_client.__file__)\n"
                           + SCRAPE], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert str(target) in done.stdout.splitlines()[0], "the version under test was the one imported"


def test_not_ready_while_the_bot_restarts_or_has_failed_and_while_a_server_is_away_past_the_grace():
    from transhades.app.health import Unreachable, readiness
    from transhades.snapshot import FlowStatus, MemberStatus

    class Tree:
        config = type("C", (), {"telegram": None})()
        bot_state = "running"

        def status(self):
            return [{"name": "bot", "group": "bot", "state": self.bot_state}]

        @property
        def dispatcher(self):
            return self

        def ask(self, message, timeout):
            return FlowStatus(groups={"provider:a": [MemberStatus("provider:a-1", "provider:a", "running", usable=True)]})

    tree = Tree()
    assert readiness(tree) == (True, "ready")
    for state in ("restarting", "failed"):
        tree.bot_state = state
        assert readiness(tree) == (False, f"the bot is {state}")
    tree.bot_state = "running"
    now = [100.0]
    away = Unreachable("the database", lambda: "connection refused", grace=10, clock=lambda: now[0])
    assert readiness(tree, [away]) == (True, "ready"), "within the grace: a restart does not take it out"
    now[0] = 111.0
    assert readiness(tree, [away]) == (False, "the database has not answered for 11 s (connection refused)")


def test_a_dispatcher_slow_to_answer_keeps_the_process_in_rotation_for_the_grace_then_not():
    """A front's dispatcher asks Redis; while Redis restarts it may not answer in time. Shorter than the grace the
    process stays ready (the reason says what is slow); past it, 503; an answer ends the silence."""
    from transhades.app.health import Readiness
    from transhades.snapshot import FlowStatus, MemberStatus

    class Tree:
        config = type("C", (), {"telegram": None})()
        answering = True

        def status(self):
            return [{"name": "dispatcher", "group": "dispatcher", "state": "running"}]

        @property
        def dispatcher(self):
            return self

        def ask(self, message, timeout):
            if not self.answering:
                raise TimeoutError("no answer within 2 s")
            return FlowStatus(groups={"provider:a": [MemberStatus("provider:a-1", "provider:a", "running", usable=True)]})

    tree, now = Tree(), [50.0]
    ready = Readiness(tree, grace=10, clock=lambda: now[0])
    assert ready() == (True, "ready")
    tree.answering = False
    assert ready() == (True, "ready (the dispatcher has not answered for 0 s)")
    now[0] = 58.0
    assert ready()[0], "8 s: still in rotation"
    now[0] = 61.0
    assert ready() == (False, "the dispatcher has not answered for 11 s")
    tree.answering = True
    assert ready() == (True, "ready")
    tree.answering = False
    now[0] = 62.0
    assert ready()[0], "a new silence starts its own grace"
