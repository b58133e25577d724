"""The chaos simulation: real actors, the fake Telegram, faults on purpose; nothing lost, nothing twice."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli

from transhades.devtools.simulate import Options, run

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", [3, 11])
def test_crashes_floods_and_provider_errors_lose_no_job_and_answer_each_once(seed):
    result = run(Options(jobs=80, users=12, crash_rate=0.05, flood_rate=0.1, provider_error_rate=0.1,
                         duplicate_rate=0.2, seed=seed, timeout=120))
    assert result["lost"] == 0 and result["duplicate_replies"] == 0
    assert result["completed"] + result["failed"] == result["submitted"] == 80
    assert result["crashes_injected"] > 0 and result["restarts"] >= result["crashes_injected"] * 0.9
    crashed = result["crashes_by_actor"]
    assert crashed.get("dispatcher") and crashed.get("bot"), "the central actors crash too, and nothing is lost"
    assert result["quarantines"] > 0 and result["floods"] > 0
    assert result["cache_hit_ms"]["p50"] is not None


def test_simulate_command_prints_json_and_rejects_bad_rates(tmp_path):
    done = run_cli("simulate", "--jobs", "20", "--crash-rate", "0.05", "--flood-rate", "0.1", "--json",
                   cwd=tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr[-1500:]
    result = json.loads(done.stdout)
    for key in ("submitted", "completed", "failed", "lost", "duplicate_replies", "restarts", "quarantines",
                "throughput_jobs_per_s", "ideal_jobs_per_s", "latency_ms", "failover_ms", "cache_hit_ms"):
        assert key in result
    assert "Traceback" not in done.stderr
    bad = run_cli("simulate", "--crash-rate", "2", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr == "error: --crash-rate must be between 0 and 1\n"
