"""The operators' side: Prometheus alert rules checked and unit-tested with the real promtool, and every Grafana
panel and alert expression reading only metrics that a real scrape of a running process returns (so a renamed
metric breaks this test, not a dashboard in production)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid

import pytest
import yaml
from conftest import ROOT
from test_health import get
from test_tree import Client, Script, tree_config

from transhades.app.health import HealthServer

DEPLOY = ROOT / "deploy"
METRIC = re.compile(r"\btranshades_[a-z_]+\b")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("TRANSHADES_REQUIRE_PROMTOOL") == "1":
            pytest.fail("promtool is required here (TRANSHADES_REQUIRE_PROMTOOL=1) (apt-get install prometheus)")
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return found


def test_the_alert_rules_are_valid_and_pass_their_unit_tests():
    tool = promtool()
    folder = DEPLOY / "prometheus"
    checked = subprocess.run([tool, "check", "rules", "alerts.yml"], cwd=folder, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([tool, "test", "rules", "alerts_test.yml"], cwd=folder, capture_output=True, text=True)
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def exposed_names(text: str) -> set[str]:
    """Every series name a scrape can hold: the samples', and the ones each declared family may have."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= {name, f"{name}_total"} if kind == "counter" else {name}
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


@pytest.fixture
def scraped(tmp_path, tone, redis_client) -> set[str]:
    """The metric names of a single process that has run a job (over real HTTP), of an active front reading a
    real Redis, and of a standby."""
    from prometheus_client import CollectorRegistry, generate_latest

    from transhades.app.health import StandbyCollector, cluster_metrics
    from transhades.app.tree import start_tree
    from transhades.cluster.bus import JobBus
    from transhades.cluster.front import Relay
    from transhades.cluster.roles import cluster_status
    from transhades.cluster.roll import Roll

    tree = start_tree(tree_config(tmp_path), provider_factory=Script().factory)
    server = HealthServer(tree, "127.0.0.1", 0).start()
    try:
        Client(tree).submit("m1", tone)
        code, single = get(server.port, "/metrics")
        assert code == 200
    finally:
        server.stop()
        tree.stop()
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    relay = Relay(JobBus(redis_client, prefix).ensure())
    relay.roll = Roll(redis_client, prefix, "front-a", "front")
    relay.roll.announce("running", 0, 0, [])

    class Front:
        def collect(self):
            return cluster_metrics(cluster_status(relay))

    texts = [single]
    for collector in (Front(), StandbyCollector()):
        registry = CollectorRegistry()
        registry.register(collector)
        texts.append(generate_latest(registry).decode())
    return set().union(*(exposed_names(text) for text in texts))


def test_every_dashboard_panel_and_alert_reads_metrics_a_real_scrape_returns(scraped):
    dashboard = json.loads((DEPLOY / "grafana" / "transhades.json").read_text())
    expressions = {f"panel {p['title']!r}": t["expr"] for p in dashboard["panels"] for t in p["targets"]}
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    expressions |= {f"alert {r['alert']}": r["expr"] for g in rules["groups"] for r in g["rules"]}
    assert len(expressions) >= 15
    unknown = {where: sorted(set(METRIC.findall(expr)) - scraped) for where, expr in expressions.items()}
    assert {where: names for where, names in unknown.items() if names} == {}
    assert all(METRIC.search(expr) for expr in expressions.values()), "every expression reads some metric"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])


def test_a_misspelt_metric_would_be_caught():
    assert METRIC.findall("sum(rate(transhades_jobs_totl[5m]))") == ["transhades_jobs_totl"]
    assert "transhades_jobs_totl" not in exposed_names("# TYPE transhades_jobs counter\ntranshades_jobs_total 1.0")
