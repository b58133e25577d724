"""/healthz, /readyz and /metrics against a running tree, over real HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from transhades.health import HealthServer
from transhades.messages import Completed, QuarantineGroup

from conftest import wait_for
from test_tree import Client, Script, tree_config


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.fixture
def served(tmp_path):
    from supervisor import start_tree

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
