"""The benchmark harness measures what it says: each benchmark at a tiny size, then the command as CI runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
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
    orchestration = bench.bench_orchestration(tmp_path, 200, asks=500)
    assert measured(orchestration["orchestration_jobs_per_s"]) and measured(orchestration["orchestration_vs_ask_ratio"])
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
    assert chaos["chaos_restarts"] > 0 and chaos["chaos_refused_repeats"] >= 0


def test_a_note_on_the_shared_local_model_waits_one_part_of_a_long_recording_and_a_cancel_frees_it(tmp_path):
    """The real tree on the bundled model alone: user B's note, sent while user A's six-minute recording is being
    decoded, is answered while A's recording still runs (users take turns part by part); A's /cancel ends A's job as
    cancelled and B's next note is answered."""
    pytest.importorskip("faster_whisper")
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng is not installed")
    fair = bench.bench_fair_local(tmp_path, 6)
    assert fair["local_fair_long_still_running"], fair
    assert fair["local_fair_long_ended"].startswith("cancelled"), fair
    assert measured(fair["local_fair_note_seconds"]) and measured(fair["local_cancel_next_note_seconds"])


def test_bench_runs_the_chosen_benchmarks_prints_their_keys_and_writes_the_results(tmp_path):
    """The command's plumbing on a few benchmarks (their full quick run belongs to ``transhades bench``)."""
    out = tmp_path / "results" / "quick.json"
    done = run_cli("bench", "--quick", "--only", "cache-hit,cpu", "--json", "--out", str(out), "--history",
                   str(tmp_path / "history.jsonl"), cwd=tmp_path, timeout=280)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    for key in ("cache_hit_p99_ms", "bare_ffmpeg_cpu_ms", "cpu_ms_per_note_single", "cpu_ms_per_note_cluster",
                "single_cpu_ratio", "cluster_cpu_ratio", "notes", "machine", "targets", "steps", "when"):
        assert key in result, f"{key} missing; steps: {result.get('steps')}"
    assert set(result["steps"]) == {"cache-hit", "cpu"} and all(step["ok"] for step in result["steps"].values())
    assert "failover_p99_ms" not in result, "only the chosen benchmarks ran"
    assert set(result["targets"]) >= {"cache_hit_p99_ms", "single_cpu_ratio", "cluster_cpu_ratio"}
    assert json.loads(out.read_text())["quick"] is True
    assert out.with_suffix(".png").stat().st_size > 1000
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 1
    wrong = run_cli("bench", "--only", "orchestration,warp", cwd=tmp_path)
    assert wrong.returncode == 2 and wrong.stderr.startswith("error: --only: unknown warp; choose from orchestration")


def _recordings_or_skip() -> None:
    from transhades.devtools import recorded

    if recorded.missing():
        if os.environ.get("CI"):
            pytest.fail(f"no recorded speech in CI: {recorded.missing()} (.ci/run installs it)")
        pytest.skip(f"no recorded speech: {recorded.missing()} (.ci/run installs it)")


def test_the_recorded_speech_is_real_recordings_with_their_published_words_over_thirty_seconds_each(tmp_path):
    import soundfile

    from transhades.devtools import recorded

    _recordings_or_skip()
    for language in recorded.LANGUAGES:
        taken = recorded.prompt_texts(language)
        assert len(taken) > 40 and all(len(text.split()) >= 6 and not re.search(r"[(\[*#\"]|\d\d|(^|\s)\?", text)
                                       for _, text in taken), "plain words only: no stage notes, symbols, numbers over 12"
        recordings = recorded.prompts(tmp_path, language)
        assert all(soundfile.info(r.path).duration > 60 for r in recordings), f"{language}: each one over 60 s"
        joined = [clip for r in recordings for clip in r.clips]
        assert sorted(joined) == [clip for clip, _ in taken], f"{language}: every prompt taken, once"
        assert sum(len(recorded.normalized(r.reference, language)) for r in recordings) > 400
    book = recorded.librivox(tmp_path)
    assert soundfile.info(book.path).duration > 30
    assert "dashwood" in book.reference.lower() and "clubs" in book.reference.lower()
    mixed = recorded.joined(tmp_path)
    sources = {("librivox" if "librivox" in str(c) else "cards" if "cards" in str(c) else "prompt") for c in mixed.clips}
    assert sources == {"librivox", "cards", "prompt"} and soundfile.info(mixed.path).duration >= 55
    taken_en = {clip for clip, _ in recorded.prompt_texts("en")}
    assert not taken_en & set(mixed.clips), "the joined clips are not the English set's"
    assert recorded.word_errors("Press 4 to mark it, Mr. Smith.", "press four to mark it mister smith") == (0, 7)
    assert recorded.word_errors("press four to mark it", "press for to mark") == (2, 5)
    assert recorded.word_errors("Contrasena incorrecta. Marque 1", "Contraseña incorrecta, marque uno.", "es") == (0, 4)
    assert recorded.word_errors("l'ultimo utente", "l’ultimo utente", "it") == (0, 3)


def test_the_word_error_rate_benchmark_reports_each_language_and_the_joined_clips(tmp_path, monkeypatch):
    """bench_wer on a small corpus (the whole one belongs to ``transhades bench --only wer``): a short recording per
    language and the joined clips, with errors and words summed per language."""
    from transhades.devtools import recorded

    _recordings_or_skip()

    def small(tmp, quick):
        out = {}
        for language in recorded.LANGUAGES:
            clips = recorded.prompt_texts(language)[:3]
            out[language] = [recorded.Recording(recorded._join(tmp / f"{language}.wav", [c for c, _ in clips]),
                                                tuple(c for c, _ in clips), " ".join(t for _, t in clips))]
        out["joined"] = [recorded.joined(tmp, seconds=10)]
        return out

    monkeypatch.setattr(bench, "wer_corpus", small)
    result = bench.bench_wer(tmp_path)
    corpus = small(tmp_path, True)
    for name in (*recorded.LANGUAGES, "joined"):
        language = "en" if name == "joined" else name
        assert result[f"wer_words_{name}"] == len(recorded.normalized(corpus[name][0].reference, language))
        assert 0 <= result[f"wer_plain_{name}"] < 0.5 and 0 <= result[f"wer_ours_{name}"] < 0.5, name
        assert result[f"wer_ours_minus_plain_{name}"] == pytest.approx(result[f"wer_ours_{name}"]
                                                                       - result[f"wer_plain_{name}"])
    assert all(f"wer_short_clips_{language}" in result for language in recorded.LANGUAGES)
    assert measured(result["wer_speedup_over_plain"])


def test_the_bench_finds_the_bundled_samples_it_warms_the_model_with():
    assert (bench.SAMPLES / "hello-en.ogg").is_file(), "a warm-up job on a missing file fails at once, warming nothing"


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
    from transhades.devtools import bench, dialogue

    real = dialogue.dialogue
    monkeypatch.setattr(dialogue, "dialogue", lambda speakers, turns=12, gap=0.4: real(speakers, min(turns, 6), gap))

    class Transcribing:  # the local model's time is the denominator: here a fixed 0.5 s, not a model load
        def __init__(self, *args, **kwargs) -> None:
            pass

        def transcribe(self, chunk, language):
            time.sleep(0.5)

    monkeypatch.setattr("transhades.providers.local.LocalWhisper", Transcribing)
    result = bench.bench_speakers(tmp_path)
    assert result["speaker_count_accuracy_synthetic"] == 1.0
    assert 0 <= result["der_synthetic_collar_mean"] <= result["der_synthetic_collar_worst"] <= 0.2
    assert result["der_synthetic_collar_mean"] <= result["der_synthetic_nocollar_mean"], "a collar only forgives"
    # measured, not judged: the diarizer against a fixed 0.5 s stand-in is a ratio of timings on a loaded machine
    assert measured(result["speakers_time_fraction_of_local"]) and measured(result["speakers_seconds_per_minute"])
