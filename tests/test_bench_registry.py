"""The benchmark registry: a failed job, a timeout, an exception or a missing figure fails its step (never a number),
`transhades bench` exits 1 on a failed step and 2 with --strict on a missed target, and the README's performance
section is exactly what the committed results files generate."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from transhades.app import cli
from transhades.devtools import bench, catalog, doubles, registry, report
from transhades.devtools.registry import Benchmark, Figure, StepFailed, Target
from transhades.errors import BadInput
from transhades.messages import Completed, Failed
from transhades.transcript import Transcript

ROOT = Path(__file__).resolve().parents[1]


def _benchmark(run, *figures: Figure, key: str = "probe") -> Benchmark:
    return Benchmark(key, key, "a probe", "none", figures or (Figure("x", target=Target("<=", 1.0)),), run)


def test_a_failed_job_ends_the_collectors_wait_with_the_failure_not_a_time():
    collector = bench.Collector(2)
    collector(Completed("a", Transcript("hi", "en", 1.0, "p", ()), False))
    collector(Failed("b", BadInput("the file has no audio")))
    with pytest.raises(StepFailed, match=r"1 of 2 jobs failed \(job b: bad_input: the file has no audio\)"):
        collector.finish(1, "probe")


def test_a_collector_that_waits_out_its_timeout_fails_with_how_many_ended():
    collector = bench.Collector(3)
    collector(Completed("a", Transcript("hi", "en", 1.0, "p", ()), False))
    with pytest.raises(StepFailed, match="probe: 1 of 3 jobs ended within 0.05 s"):
        collector.finish(0.05, "probe")


@pytest.mark.parametrize("outcome, reason", [
    (StepFailed("a job failed"), "a job failed"),
    (RuntimeError("boom"), "RuntimeError: boom"),
    ({"y": 1.0}, "did not report x"),
    ({"x": float("nan")}, "not a number: x"),
])
def test_a_step_that_cannot_measure_fails_with_its_reason(tmp_path, outcome, reason):
    def run(tmp, sizes):
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    step = registry.run_step(_benchmark(run), tmp_path, {})
    assert not step.ok and step.reason == reason and step.figures == {}


def test_targets_are_judged_with_bounds_taken_from_the_same_run():
    scaled = Figure("speedup", target=Target(">=", 0.8, scaled_by="k"))
    plus = Figure("takeover", target=Target("<=", 1.0, plus="lease"))
    probe = _benchmark(lambda t, s: {}, scaled, plus, Figure("k"), Figure("lease"))
    verdicts = registry.verdicts((probe,), {"speedup": 3.0, "k": 4, "takeover": 3.5, "lease": 2.0})
    assert verdicts == {"speedup": {"op": ">=", "target": 3.2, "ok": False},
                        "takeover": {"op": "<=", "target": 3.0, "ok": False}}
    assert scaled.target and scaled.target.text() == ">= 0.8 x k"


def _patch_registry(monkeypatch, *benchmarks: Benchmark) -> None:
    monkeypatch.setattr(catalog, "REGISTRY", benchmarks)
    monkeypatch.setattr(catalog, "STEPS", tuple(b.key for b in benchmarks))


def test_bench_exits_1_when_a_step_failed_and_reports_no_figure_for_it(monkeypatch, capsys):
    def broken(tmp, sizes):
        raise StepFailed("the warm-up job read a missing file")

    _patch_registry(monkeypatch, _benchmark(lambda t, s: {"x": 0.5}, key="fine"), _benchmark(broken, key="broken"))
    assert cli.main(["bench", "--quick", "--json"]) == cli.EXIT_FAILED
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert result["steps"]["broken"] == {"ok": False, "seconds": 0.0, "reason": "the warm-up job read a missing file"}
    assert result["steps"]["fine"]["ok"] and result["x"] == 0.5 and result["targets"]["x"]["ok"]
    assert "error: bench step broken failed: the warm-up job read a missing file" in err


def test_bench_strict_exits_2_on_a_missed_target_and_0_without_strict(monkeypatch, capsys):
    _patch_registry(monkeypatch, _benchmark(lambda t, s: {"x": 1.5}))
    assert cli.main(["bench", "--quick"]) == cli.EXIT_OK
    assert "MISSED (<= 1)" in capsys.readouterr().out
    assert cli.main(["bench", "--quick", "--strict"]) == cli.EXIT_STRICT_MISSED == 2
    assert "bench: missed targets: x" in capsys.readouterr().err


class _Failing:
    """A provider whose every answer is a failure: the job fails, as a real one can."""

    def __init__(self, cfg, data_dir) -> None:
        self.name = cfg.name

    def transcribe(self, *args, **kwargs):
        raise BadInput("injected: this file cannot be transcribed")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("key", ["orchestration", "parallel-chunks", "first-text", "cache-hit", "failover"])
def test_a_failing_job_fails_the_step_of_each_benchmark_that_runs_jobs(tmp_path, monkeypatch, key):
    """Jobs through the tree (a Collector) and through the fake Telegram (its replies): a failed job fails the step
    at once, with the failure as its reason."""
    monkeypatch.setattr(bench, "simulated_providers", lambda *a: _Failing)
    sizes = {**catalog.QUICK, "jobs": 20, "asks": 100, "hits": 2, "failovers": 2, "chunks": 120}
    benchmark = next(b for b in catalog.REGISTRY if b.key == key)
    step = registry.run_step(benchmark, tmp_path, sizes)
    assert not step.ok and ("injected" in step.reason or "a job failed" in step.reason), step.reason


def test_a_failing_conversion_fails_the_audio_benchmarks(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "ffmpeg_binary", lambda: "false")
    for key in ("audio-prep", "memory"):
        step = registry.run_step(next(b for b in catalog.REGISTRY if b.key == key), tmp_path, catalog.QUICK)
        assert not step.ok and "CalledProcessError" in step.reason, step.reason


def test_the_model_benchmarks_fail_when_their_recordings_or_voices_are_missing(tmp_path, monkeypatch):
    from transhades.devtools import recorded

    monkeypatch.setattr(recorded, "missing", lambda: "apt-get install asterisk-core-sounds-it-wav")
    step = registry.run_step(next(b for b in catalog.REGISTRY if b.key == "wer"), tmp_path, catalog.QUICK)
    assert not step.ok and step.reason == "no recorded speech: apt-get install asterisk-core-sounds-it-wav"


def test_a_chaos_run_whose_tree_stopped_fails_its_step(tmp_path, monkeypatch):
    from transhades.devtools import simulate

    monkeypatch.setattr(simulate, "run", lambda options: {"tree_stopped": "supervisor gave up on dispatcher"})
    step = registry.run_step(next(b for b in catalog.REGISTRY if b.key == "chaos"), tmp_path, catalog.QUICK)
    assert not step.ok and step.reason == "the actor tree stopped: supervisor gave up on dispatcher"


def test_every_benchmark_declares_a_baseline_and_unique_figures():
    keys = [f.key for b in catalog.REGISTRY for f in b.figures]
    assert len(keys) == len(set(keys)), "a figure belongs to one benchmark"
    assert all(b.baseline.split(":")[0] in ("same run", "none", "simulated") for b in catalog.REGISTRY)
    assert catalog.STEPS == tuple(b.key for b in catalog.REGISTRY)
    help_text = subprocess.run([*_cli(), "bench", "--help"], capture_output=True, text=True, check=True).stdout
    assert all(b.key in " ".join(help_text.split()).replace("- ", "-") for b in catalog.REGISTRY)


def _cli() -> list[str]:
    import sys

    return [sys.executable, "-m", "transhades.app.cli"]


def test_the_readme_performance_section_is_what_the_committed_results_generate():
    readme = (ROOT / "README.md").read_text()
    generated = report.markdown(catalog.REGISTRY, report.load(ROOT / "bench" / "latest-quick.json"),
                                report.load(ROOT / "bench" / "latest-full.json"))
    assert report.section(readme) == generated, "run: transhades bench --markdown, and paste it into the README"


def test_the_markdown_says_a_failed_step_and_a_miss_from_the_results_not_by_hand():
    probe = _benchmark(lambda t, s: {}, Figure("x", "ms", Target("<", 20)), key="probe")
    other = _benchmark(lambda t, s: {}, Figure("y", target=Target(">=", 1)), key="other")
    quick = {"when": "2026-12-07T00:00:00Z", "commit": "abc1234", "machine": {"cpus": 2}, "seconds": 60,
             "steps": {"probe": {"ok": True, "seconds": 1}, "other": {"ok": False, "seconds": 1, "reason": "timeout"}},
             "x": 25.0, "targets": {"x": {"op": "<", "target": 20, "ok": False}}}
    text = report.markdown((probe, other), quick, None)
    assert "| probe | `x` | < 20 ms | **25.00 ms, missed** | not run |" in text
    assert "| other | `y` | >= 1 | **step failed** | not run |" in text
    assert "- quick, `other`: timeout" in text and "2026-12-07T00:00:00Z at commit `abc1234`" in text
    assert "- full (`transhades bench`): no results file." in text


def test_the_percentile_of_nothing_is_not_a_number_so_an_empty_benchmark_fails():
    assert doubles.percentile([], 99) != doubles.percentile([], 99)  # NaN: run_step refuses it
