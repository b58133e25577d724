"""The benchmark harness measures what it says: each benchmark at a tiny size, then the command as CI runs it."""

from __future__ import annotations

import json
import time

import pytest
from conftest import run_cli

from transhades.devtools import bench

pytestmark = pytest.mark.slow


def measured(value: float) -> bool:
    """A benchmark's number: measured (positive and finite). How fast is for the benchmark report to say, not for
    a test to judge on a shared machine."""
    return 0 < value < float("inf")


def test_every_benchmark_runs_at_a_tiny_size_and_gives_sane_numbers(tmp_path):
    assert measured(bench.bench_pykka(500)["pykka_ask_roundtrips_per_s"])
    orchestration = bench.bench_orchestration(tmp_path, 200)
    assert orchestration["orchestration_failed"] == 0 and measured(orchestration["orchestration_jobs_per_s"])
    hit = bench.bench_cache_hit(tmp_path, 5)
    assert measured(hit["cache_hit_p99_ms"])
    failover = bench.bench_failover(tmp_path, 5)
    assert failover["failover_samples"] == 5 and measured(failover["failover_p99_ms"])
    storm = bench.bench_flood_storm(tmp_path, 12)
    spread = bench.bench_credential_spread(tmp_path, 9)
    assert sum(spread["credential_spread_downloads"].values()) == 9 and 0 <= spread["credential_spread"] <= 1
    assert 0 < storm["flood_storm_efficiency"] <= 1.2
    prep = bench.bench_audio_prep(tmp_path, 60)
    assert measured(prep["audio_prep_ratio"])
    chunks = bench.bench_parallel_chunks(tmp_path, 2, 240)
    assert chunks["parallel_chunk_count"] >= 4 and measured(chunks["parallel_chunk_speedup"])
    rss = bench.bench_peak_rss(tmp_path, 20)
    assert measured(rss["peak_rss_mb_large_video"]) and rss["large_video_mb"] >= 15
    chaos = bench.bench_chaos(30)
    assert chaos["chaos_jobs"] == 30 and chaos["chaos_lost"] == 0 and chaos["chaos_duplicate_replies"] == 0
    assert chaos["chaos_restarts"] > 0


def test_bench_runs_the_chosen_benchmarks_prints_their_keys_and_writes_the_results(tmp_path):
    """The command's plumbing on a few benchmarks (their full quick run belongs to ``transhades bench``)."""
    out = tmp_path / "results" / "quick.json"
    done = run_cli("bench", "--quick", "--only", "pykka,cache-hit,cpu", "--json", "--out", str(out), "--history",
                   str(tmp_path / "history.jsonl"), cwd=tmp_path, timeout=280)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    for key in ("pykka_ask_roundtrips_per_s", "cache_hit_p99_ms", "bare_ffmpeg_cpu_ms", "cpu_ms_per_note_single",
                "cpu_ms_per_note_cluster", "single_cpu_ratio", "cluster_cpu_ratio", "notes", "machine", "targets"):
        assert key in result, f"{key} missing; notes: {result.get('notes')}"
    assert "failover_p99_ms" not in result, "only the chosen benchmarks ran"
    assert set(result["targets"]) >= {"cache_hit_p99_ms", "single_cpu_ratio", "cluster_cpu_ratio"}
    assert json.loads(out.read_text())["quick"] is True
    assert out.with_suffix(".png").stat().st_size > 1000
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 1
    wrong = run_cli("bench", "--only", "pykka,warp", cwd=tmp_path)
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: --only: unknown warp; choose from pykka")


def test_the_word_error_rate_benchmark_reads_real_recorded_speech(tmp_path):
    if not bench.RECORDINGS.is_dir():
        pytest.skip("Debian's pocketsphinx-testdata is not installed (.ci/run installs it)")
    result = bench.bench_wer(tmp_path)
    assert 0 <= result["wer_plain"] < 0.5 and 0 <= result["wer_ours"] < 0.5 and result["wer_words"] == 92


def test_cpu_per_note_counts_the_processes_and_their_ffmpeg_children(tmp_path):
    import subprocess
    import sys

    from transhades.devtools.cpu import cpu_seconds

    busy = subprocess.Popen([sys.executable, "-c", "import subprocess, sys\n"
                             "subprocess.run([sys.executable, '-c', 'sum(range(30_000_000))'])\n"
                             "input()"], stdin=subprocess.PIPE)
    try:
        import time

        time.sleep(0.2)
        deadline = time.monotonic() + 30
        while cpu_seconds(busy.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cpu_seconds(busy.pid) >= 0.3, "the child's CPU is counted once it has ended"
    finally:
        busy.communicate(b"\n", timeout=30)


def test_the_speakers_benchmark_reports_its_error_rates_and_time_against_their_targets(tmp_path, monkeypatch):
    """bench_speakers on short dialogues (its full size belongs to ``transhades bench --only speakers``)."""
    import importlib.util

    if importlib.util.find_spec("resemblyzer") is None:
        pytest.skip("the speakers extra is not installed")
    from transhades.devtools import bench, dialogue

    real = dialogue.dialogue
    monkeypatch.setattr(dialogue, "dialogue", lambda speakers, turns=12, gap=0.4: real(speakers, min(turns, 4), gap))

    class Transcribing:  # the local model's time is the denominator: here a fixed 0.5 s, not a model load
        def __init__(self, *args, **kwargs) -> None:
            pass

        def transcribe(self, chunk, language):
            time.sleep(0.5)

    monkeypatch.setattr("transhades.providers.local.LocalWhisper", Transcribing)
    result = bench.bench_speakers(tmp_path)
    assert result["speakers_found_2"] == 2 and result["speakers_found_3"] == 3
    assert 0 <= result["diarization_error_rate_2"] <= 0.10 and 0 <= result["diarization_error_rate_3"] <= 0.20
    assert 0 < result["speakers_time_fraction_of_local"] < 1 and result["speakers_seconds_per_minute"] > 0
    assert {"diarization_error_rate_2", "diarization_error_rate_3", "speakers_time_fraction_of_local"} <= \
        set(bench.TARGETS) and "speakers" in bench.STEPS
