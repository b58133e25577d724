"""``transhades simulate --cluster``: real processes, Redis and PostgreSQL of the simulation's own, every fault
kind on a schedule; nothing lost, nothing answered twice, no process exits for outages shorter than the lease."""

from __future__ import annotations

import json
import os

import pytest
from conftest import run_cli

from transhades.devtools.cluster_sim import FAULTS

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]


def test_every_fault_kind_costs_no_note_answers_none_twice_and_stops_no_process(tmp_path):
    done = run_cli("simulate", "--cluster", "--workers", "3", "--gap", "3", "--json", cwd=tmp_path, timeout=600)
    if "skipped" in done.stderr:
        if os.environ.get("TRANSHADES_REQUIRE_REDIS") == "1" or os.environ.get("TRANSHADES_REQUIRE_POSTGRES") == "1":
            pytest.fail(done.stderr)
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout
    report = json.loads(done.stdout)
    assert report["faults"] == list(FAULTS)
    assert report["posted"] >= 40 and report["answered"] == report["posted"]
    assert report["lost"] == 0 and report["duplicated"] == 0
    assert report["process_exits"] == [], "every outage was shorter than the lease"
    assert report["metrics_scraped"] and all(report["metrics_scraped"].values()), report["metrics_scraped"]
    assert report["longest_wait_s"] < 60


def test_bad_fault_names_are_one_line(tmp_path):
    done = run_cli("simulate", "--cluster", "--faults", "redis-restart,meteor", cwd=tmp_path, timeout=60)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown meteor" in done.stderr
