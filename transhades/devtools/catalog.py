"""The benchmarks of ``transhades bench``, declared once: what each measures, against what, its figures and their
targets (see registry.py). The functions that measure live in bench.py and are imported only when a step runs, so
the CLI's help and ``--markdown`` cost no import of the actor system."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from transhades.devtools.registry import Benchmark, Figure, Target, run_all

CHECKOUT = Path(__file__).resolve().parents[2]  # the repository, when the code runs from one


def _bench() -> ModuleType:
    from transhades.devtools import bench

    return bench


QUICK = {"quick": 1, "asks": 20_000, "jobs": 3_000, "hits": 40, "failovers": 30, "storm": 60, "prep": 300,
         "chunks": 600, "rss_mb": 200, "chaos": 100, "spread": 60, "scale": 12, "download_mb": 96, "cpu_notes": 6}
FULL = {"quick": 0, "asks": 100_000, "jobs": 10_000, "hits": 200, "failovers": 100, "storm": 200, "prep": 3600,
        "chunks": 3600, "rss_mb": 2000, "chaos": 1000, "spread": 300, "scale": 40, "download_mb": 400, "cpu_notes": 20}

FAKE_TELEGRAM = ("simulated: the fake Telegram (transhades/telegram/fake.py) is the seed's premise, not a measured "
                 "fact: FloodWait per credential, downloads at a set speed, repeats refused by random_id")


def _figures(*specs: Any) -> tuple[Figure, ...]:
    return tuple(spec if isinstance(spec, Figure) else Figure(spec) for spec in specs)


def _wer_figures() -> tuple[Figure, ...]:
    from transhades.devtools.recorded import LANGUAGES

    out: list[Figure] = []
    for language in LANGUAGES:
        out += [Figure(f"wer_plain_{language}", digits=4, headline=True),
                Figure(f"wer_ours_{language}", digits=4, headline=True),
                Figure(f"wer_short_clips_{language}", digits=4, full_only=True),
                Figure(f"wer_ours_minus_plain_{language}", target=Target("<=", 0.01), digits=4),
                Figure(f"wer_words_{language}")]
    return (*out, Figure("wer_plain_joined", digits=4, headline=True),
            Figure("wer_ours_joined", digits=4, headline=True),
            Figure("wer_ours_minus_plain_joined", target=Target("<=", 0.02), digits=4), Figure("wer_words_joined"),
            Figure("wer_speedup_over_plain", headline=True), Figure("wer_speech_seconds", "s"))


def _der_figures(voices: str) -> tuple[Figure, ...]:
    """The diarization error rate with a 0.25 s collar and with none, and the speaker count, on a set of dialogues
    (the targets of real voices hold for the synthetic ones too)."""
    return (Figure(f"der_{voices}_collar_mean", target=Target("<=", 0.08), digits=3),
            Figure(f"der_{voices}_collar_worst", target=Target("<=", 0.12), digits=3),
            Figure(f"der_{voices}_nocollar_mean", target=Target("<=", 0.12), digits=3),
            Figure(f"der_{voices}_nocollar_worst", digits=3),
            Figure(f"speaker_count_accuracy_{voices}", target=Target(">=", 0.9)))


REGISTRY: tuple[Benchmark, ...] = (
    Benchmark("orchestration", "orchestration",
              "whole jobs through supervisor, dispatcher, cache, audio and provider actors with instant providers",
              "same run: pykka's own ask round trip on this machine (the ceiling of message passing)",
              _figures(Figure("orchestration_jobs_per_s", "/s", Target(">=", 3000)),
                       Figure("pykka_ask_roundtrips_per_s", "/s", headline=True), Figure("pykka_ask_p99_ms", "ms"),
                       "orchestration_vs_ask_ratio"),
              lambda tmp, n: _bench().bench_orchestration(tmp, n["jobs"], n["asks"])),
    Benchmark("cache-hit", "cache hit",
              "a forwarded duplicate arrives -> its transcript is sent (no status message for an instant answer)",
              FAKE_TELEGRAM,
              _figures(Figure("cache_hit_p99_ms", "ms", Target("<", 20)), Figure("cache_hit_p50_ms", "ms")),
              lambda tmp, n: _bench().bench_cache_hit(tmp, n["hits"])),
    Benchmark("failover", "failover",
              "a FloodWait raised on one credential -> the same download streaming on another (12 credentials, every "
              "file's first attempt flood-waited for 1 s)", FAKE_TELEGRAM,
              _figures(Figure("failover_p99_ms", "ms", Target("<", 50)), Figure("failover_p50_ms", "ms"),
                       "failover_samples"),
              lambda tmp, n: _bench().bench_failover(tmp, n["failovers"])),
    Benchmark("flood-storm", "flood storm",
              "downloads per second / the ideal bound: the time each of 3 credentials was not quarantined in this run "
              "(0.2 s downloads, FloodWait of 1-2 s on 25 % of attempts)",
              f"same run: the bound from this run's own quarantines; {FAKE_TELEGRAM}",
              _figures(Figure("flood_storm_efficiency", target=Target(">=", 0.95)), "flood_storm_jobs_per_s",
                       "flood_storm_ideal_jobs_per_s", "flood_storm_floods"),
              lambda tmp, n: _bench().bench_flood_storm(tmp, n["storm"])),
    Benchmark("credential-spread", "credential spread",
              "least / most downloads per credential, three credentials, a steady stream of notes, no floods",
              f"none: a ratio within the run; {FAKE_TELEGRAM} (50 ms per download)",
              _figures(Figure("credential_spread", target=Target(">=", 0.8)), "credential_spread_downloads"),
              lambda tmp, n: _bench().bench_credential_spread(tmp, n["spread"])),
    Benchmark("audio-prep", "audio preparation",
              "our preparation (probe, one ffmpeg pass with silence detection, chunk cuts) of a long recording",
              "same run: a bare ffmpeg command doing the same conversion, interleaved; the median of three rounds' "
              "ratios",
              _figures(Figure("audio_prep_ratio", target=Target("<=", 1.15)), Figure("audio_prep_seconds", "s"),
                       Figure("audio_prep_bare_seconds", "s"), Figure("audio_prep_audio_seconds", "s")),
              lambda tmp, n: _bench().bench_audio_prep(tmp, n["prep"])),
    Benchmark("parallel-chunks", "parallel chunks", "a long recording over K provider instances",
              "same run: the same recording over 1 instance; simulated: providers answer after 1 ms per audio second",
              _figures(Figure("parallel_chunk_speedup", target=Target(">=", 0.8, scaled_by="parallel_chunk_k")),
                       "parallel_chunk_k", "parallel_chunk_count"),
              lambda tmp, n: _bench().bench_parallel_chunks(tmp, 4, n["chunks"])),
    Benchmark("first-text", "first text of a 60 min recording",
              "time to the first text delivered / time to the whole transcript, 60 min over 4 providers",
              "none: simulated providers take 1 ms per audio second, so the figure follows the part plan (first "
              "part / all parts over 4 providers), not a provider's speed",
              _figures(Figure("first_text_fraction", target=Target("<=", 0.2)), "first_text_parts",
                       "first_text_providers"),
              lambda tmp, n: _bench().bench_first_text(tmp)),
    Benchmark("parallel-download", "one large file over 3 sessions",
              "one large file over 3 sessions against one, each session with the same bandwidth",
              f"same run: one session; {FAKE_TELEGRAM} (40 MiB/s per session)",
              _figures(Figure("parallel_download_speedup",
                              target=Target(">=", 0.8, scaled_by="parallel_download_credentials")),
                       "parallel_download_credentials", Figure("parallel_download_mb", "MiB"),
                       Figure("parallel_download_seconds_one", "s")),
              lambda tmp, n: _bench().bench_parallel_download(tmp, n["download_mb"])),
    Benchmark("memory", "large video memory",
              "peak RSS of the whole process tree (Python and ffmpeg) hashing and preparing a large video",
              "none: an absolute bound",
              _figures(Figure("peak_rss_mb_large_video", "MB", Target("<=", 300)), Figure("large_video_mb", "MB")),
              lambda tmp, n: _bench().bench_peak_rss(tmp, n["rss_mb"])),
    Benchmark("local", "local provider on the story",
              "a job through the tree on the bundled local model, and our provider's call, on about 2 min of speech "
              "(espeak-ng reading a story), language given",
              "same run: faster-whisper's batched pipeline called directly (overhead) and plain "
              "WhisperModel.transcribe (speed-up), same audio and settings, interleaved",
              _figures(Figure("local_provider_overhead", target=Target("<=", 1.10)),
                       Figure("local_speedup_over_plain", target=Target(">=", 1.3)),
                       Figure("local_provider_seconds", "s"), Figure("local_direct_seconds", "s"),
                       Figure("local_plain_seconds", "s"), Figure("local_speech_seconds", "s")),
              lambda tmp, n: _bench().bench_local(tmp, rounds=2 if n["quick"] else 3), needs="espeak-ng"),
    Benchmark("wer", "word error rate on recorded speech",
              "word error rate on real recorded speech with published transcriptions, in English, Spanish, French and "
              "Italian (Debian's pocketsphinx-testdata and asterisk-core-sounds-*), and on unrelated clips joined",
              "same run: plain decoding of each whole recording by the same model; the clips one by one",
              _wer_figures(), lambda tmp, n: _bench().bench_wer(tmp, quick=bool(n["quick"]))),
    Benchmark("first-words", "first words of a 150 s voice note",
              "a 150 s voice note (espeak-ng) through the tree on the local model, warm: time to its first words "
              "reaching the listener", "same run: the whole job's time",
              _figures(Figure("first_words_fraction_local", target=Target("<=", 0.15)),
                       Figure("first_words_seconds_local", "s"), Figure("first_words_job_seconds_local", "s")),
              lambda tmp, n: _bench().bench_first_words(tmp), needs="espeak-ng"),
    Benchmark("fair-local", "one user's long file and another's note on the local model",
              "the local model alone: a 6 s note from user B sent while user A's long recording (espeak-ng, several "
              "minutes) is being decoded; then A's /cancel with B's next note sent at that moment",
              "same run: the same kind of note on the idle model",
              _figures(Figure("local_fair_note_seconds", "s", Target("<=", 10)),
                       Figure("local_cancel_busy_seconds", "s", Target("<=", 2)),
                       Figure("local_note_alone_seconds", "s"), Figure("local_cancel_next_note_seconds", "s"),
                       Figure("local_fair_long_minutes", "min")),
              lambda tmp, n: _bench().bench_fair_local(tmp, 10 if n["quick"] else 60), needs="espeak-ng"),
    Benchmark("vocab", "names and terms from a chat's vocabulary",
              "23 short notes (espeak-ng, Indonesian and English): 16 saying 31 rare names and terms, 6 saying none, "
              "and silence, through the bundled local model as the provider actor runs it, with the set's 18 terms "
              "as the vocabulary",
              "same run: the same notes without a vocabulary, and with Whisper's hotwords alone",
              _figures(Figure("vocab_recall", target=Target(">=", 0.8)),
                       Figure("vocab_false_insertions", target=Target("==", 0)),
                       Figure("vocab_other_wer_rise", target=Target("<=", 0.0), digits=3),
                       Figure("vocab_recall_plain"), Figure("vocab_recall_hotwords"),
                       Figure("vocab_false_insertions_hotwords"), Figure("vocab_other_wer", digits=3),
                       Figure("vocab_other_wer_plain", digits=3), Figure("vocab_other_wer_hotwords", digits=3),
                       Figure("vocab_time_ratio")),
              lambda tmp, n: _bench().bench_vocab(tmp), needs="espeak-ng"),
    Benchmark("mixed", "notes that mix Indonesian and English",
              "recordings alternating Indonesian and English turns (espeak-ng, several voices, about 16 s turns; "
              "quick 2 of 4-6 turns, full 4 of 4-8) through the bundled local model with languages [id, en], each "
              "part in its language; and the first recording's Indonesian and English turns as two one-language "
              "recordings",
              "same run: the same recordings with one language detected for the whole (language_per_part: false); "
              "each turn alone with its language given (wer_id, wer_en)",
              _figures(Figure("wer_mixed_over_alone", target=Target("<=", 0.03), digits=3),
                       Figure("mixed_parts_wrong_language", target=Target("==", 0)),
                       Figure("mixed_time_ratio", target=Target("<=", 1.2)),
                       Figure("one_language_time_ratio", target=Target("<=", 1.1)),
                       Figure("one_language_wer_rise", target=Target("<=", 0.01), digits=3),
                       Figure("one_language_wer", digits=3),
                       Figure("wer_mixed", digits=3, headline=True), Figure("wer_mixed_one_language", digits=3),
                       Figure("wer_id", digits=3), Figure("wer_en", digits=3), Figure("mixed_segments"),
                       Figure("mixed_seconds_min", "s"), Figure("mixed_seconds_max", "s")),
              lambda tmp, n: _bench().bench_mixed(tmp, bool(n["quick"])), needs="espeak-ng"),
    Benchmark("speakers", "who said what in generated dialogues",
              "the offline diarizer on dialogues of distinct espeak-ng voices with known turns (2 and 3 speakers, "
              "short and long gaps), DER with a 0.25 s collar and with none, the best mapping of speakers",
              "same run: the local model's transcription of the same 3-speaker audio (time); the known turns (DER)",
              _figures(*_der_figures("synthetic"),
                       Figure("speakers_time_fraction_of_local", target=Target("<=", 0.15), digits=3),
                       Figure("speakers_seconds_per_minute", "s")),
              lambda tmp, n: _bench().bench_speakers(tmp), needs="espeak-ng", quick=False),
    Benchmark("speakers-real", "who said what in real voices' dialogues",
              "the offline diarizer on dialogues of real recorded people (Debian's telephone prompt voices: telephone "
              "band, one loudness, 2 and 3 speakers, mixed and same gender, short and long gaps, known turns; "
              "transhades/devtools/voices.py), and the transcript labelled per word from its turns",
              "same run: the local model's transcription of the same dialogue of two Italian voices (time); the known "
              "turns (DER); the diarizer's own turns on the same words, no collar (the labelled transcript)",
              _figures(*_der_figures("real"),
                       Figure("speakers_real_time_fraction_of_local", target=Target("<=", 0.10), digits=3),
                       Figure("der_labelled_minus_turns", target=Target("<=", 0.01), digits=3),
                       Figure("speakers_real_seconds_per_minute", "s", headline=True), "der_real_dialogues"),
              lambda tmp, n: _bench().bench_speakers_real(tmp), needs="the voices of transhades/devtools/voices.py"),
    Benchmark("speakers-named", "voices named in one recording, known in the next",
              "for each real-voice dialogue: its voices named in a dialogue of every other clip of those people, then "
              "found in one of the other clips (as a chat that remembers voices does): the share of the named "
              "voices' turns that come back with the right name; and wrong names, counted also in chats that know "
              "only voices absent from the recording",
              "same run: the known turns and who spoke them",
              _figures(Figure("voices_named_right", target=Target(">=", 0.90), digits=3),
                       Figure("voices_named_wrong", target=Target("<=", 0.02), digits=4),
                       Figure("voices_named_pairs", headline=True)),
              lambda tmp, n: _bench().bench_speakers_named(), needs="the voices of transhades/devtools/voices.py"),
    Benchmark("dev-install", "the dev install in a fresh virtual environment",
              "pip install -e \".[dev]\" of this checkout into a new venv: its size on disk, its time, and any torch, "
              "CUDA (nvidia-*), triton or librosa package in it", "none: absolute bounds (full run only)",
              _figures(Figure("dev_install_mb", "MB", Target("<=", 1500)),
                       Figure("dev_install_heavy_packages", target=Target("==", 0)),
                       Figure("dev_install_seconds", "s", headline=True), "dev_install_packages"),
              lambda tmp, n: _bench().bench_dev_install(tmp), quick=False),
    Benchmark("chaos", "chaos",
              "the chaos run, seed 7: 5 % crashes of any actor, 10 % FloodWaits, 10 % provider errors, 10 % "
              "duplicates; every job must end with exactly one final reply",
              f"none: counts; {FAKE_TELEGRAM}; chaos_refused_repeats counts the repeats the fake refused",
              _figures(Figure("chaos_lost", target=Target("==", 0)),
                       Figure("chaos_duplicate_replies", target=Target("==", 0)),
                       Figure("chaos_refused_repeats", headline=True), "chaos_jobs",
                       Figure("chaos_completed", headline=True), Figure("chaos_failed", headline=True),
                       "chaos_restarts", "chaos_quarantines",
                       Figure("chaos_throughput_jobs_per_s", "/s"), Figure("chaos_latency_p99_ms", "ms"),
                       Figure("chaos_seconds", "s")),
              lambda tmp, n: _bench().bench_chaos(n["chaos"])),
    Benchmark("scale-out", "scale-out over worker processes",
              "jobs/s with 4 `transhades run --role worker` processes on the real Redis; a worker SIGKILLed while it "
              "holds jobs",
              f"same run: jobs/s with 1 worker; simulated: a loopback provider answering after 0.5 s; {FAKE_TELEGRAM}",
              _figures(Figure("scale_out_efficiency", target=Target(">=", 0.8)),
                       Figure("worker_takeover_seconds", "s", Target("<=", 1.0, plus="worker_lease_seconds")),
                       "scale_out_workers", Figure("scale_out_jobs_per_s_one", "/s"),
                       Figure("worker_lease_seconds", "s")),
              lambda tmp, n: _bench().bench_scale_out(tmp, n["scale"]), needs="redis-server at TRANSHADES_REDIS_URL"),
    Benchmark("cpu", "CPU per 10 s voice note",
              "all processes' CPU (user + system, with their ffmpeg children) per 10 s voice note through the fake "
              "Telegram to a loopback provider: one process, and a front with a worker and redis-server",
              "same run: the same note through the bot's ffmpeg conversion alone; the single process",
              _figures(Figure("single_cpu_ratio", target=Target("<=", 3.0)),
                       Figure("cluster_cpu_ratio", target=Target("<=", 1.5)), Figure("bare_ffmpeg_cpu_ms", "ms"),
                       Figure("cpu_ms_per_note_single", "ms"), Figure("cpu_ms_per_note_cluster", "ms")),
              lambda tmp, n: _bench().bench_cpu_per_note(n["cpu_notes"]), needs="redis-server"),
)
STEPS = tuple(b.key for b in REGISTRY)


def step_help() -> str:
    return ", ".join(STEPS)


def run(quick: bool, progress: Callable[[str], None] = lambda s: None, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """``transhades bench``: the registry's benchmarks at the quick or the full sizes."""
    sizes = QUICK if quick else FULL
    result = run_all(REGISTRY, sizes, quick, progress, only, CHECKOUT)
    result["notes"] = [f"quick mode: audio preparation on {sizes['prep'] // 60} min instead of 60, a large video of "
                       f"{sizes['rss_mb']} MB instead of 2 GB, {sizes['chaos']} chaos jobs instead of 1,000, "
                       "the word error rate on a minute of each language, without the clips one by one"
                       ] if quick else []
    return result
