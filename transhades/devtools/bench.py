"""``transhades bench``: measure every number in the brief against a baseline taken in the same run.

Each benchmark runs the real actor tree (supervisor, dispatcher, cache, audio, providers, credentials, bot) with
in-process stand-ins only where the brief's number is about orchestration (instant providers, the fake Telegram),
and real ffmpeg and faster-whisper where it is about audio. Machines are noisy, so each figure comes with the
baseline it is compared to, measured moments before on the same machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka

from transhades import config as config_lib
from transhades.audio.prepare import AudioPreparer, ffmpeg_binary
from transhades.devtools.doubles import InstantPreparer, percentile, simulated_providers
from transhades.devtools.registry import StepFailed
from transhades.media import LocalFile
from transhades.messages import CancelJob, Completed, Failed, JobRequest, Partial, Stage, SubmitJob

SAMPLES = Path(__file__).resolve().parents[2] / "samples"  # the repository's bundled recordings



def bench_config(tmp: Path, providers: int = 1, instances: int = 2, telegram: dict | None = None,
                 concurrency: int = 100_000, audio_workers: int = 2) -> config_lib.Config:
    raw: dict[str, Any] = {
        "providers": [{"name": f"sim{i}", "kind": "openai", "base_url": "http://127.0.0.1:9", "api_key": "k",
                       "instances": instances} for i in range(1, providers + 1)],
        "cache": {"backend": "memory", "max_items": 1_000_000},
        "dispatcher": {"max_concurrent_jobs": concurrency, "per_user_limit": concurrency, "retries": 2},
        "audio": {"workers": audio_workers, "temp_dir": str(tmp / "tmp")},
        "data_dir": str(tmp / "data"),
    }
    if telegram is not None:
        raw["telegram"] = {"bot_token": "1:x", "session_dir": str(tmp / "sessions"), **telegram}
    return config_lib.parse(raw, env={})


class Collector:
    """A job listener that remembers when each job ended, and how each failed one failed: a benchmark reports a
    time only for jobs that completed (``finish``)."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.ended: dict[str, float] = {}
        self.failures: dict[str, str] = {}
        self.stages: dict[str, float] = {}
        self.first_text: dict[str, float] = {}
        self.done = threading.Event()
        self.lock = threading.Lock()

    @property
    def failed(self) -> int:
        return len(self.failures)

    def __call__(self, event: Any) -> None:
        if isinstance(event, Stage) and event.stage == "transcribing":
            self.stages.setdefault(event.job_id, time.perf_counter())
        if isinstance(event, Partial):
            self.first_text.setdefault(event.job_id, time.perf_counter())
        if isinstance(event, (Completed, Failed)):
            with self.lock:
                self.ended[event.job_id] = time.perf_counter()
                if isinstance(event, Failed):
                    self.failures[event.job_id] = f"{event.error.kind}: {event.error}"
                if len(self.ended) >= self.expected:
                    self.done.set()

    def finish(self, timeout: float, what: str) -> None:
        """Waits for every job; a timeout or any failed job fails the benchmark with the reason."""
        if not self.done.wait(timeout):
            raise StepFailed(f"{what}: {len(self.ended)} of {self.expected} jobs ended within {timeout:g} s")
        if self.failures:
            job, reason = next(iter(self.failures.items()))
            raise StepFailed(f"{what}: {len(self.failures)} of {self.expected} jobs failed (job {job}: {reason})")


# ================================================================================================ benchmarks


class Echo(pykka.ThreadingActor):
    def on_receive(self, message: Any) -> Any:
        return message


def bench_pykka(count: int) -> dict[str, Any]:
    ref = Echo.start()
    try:
        for _ in range(200):
            ref.ask(1)
        latencies = []
        started = time.perf_counter()
        for _ in range(count):
            t = time.perf_counter()
            ref.ask(1)
            latencies.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - started
    finally:
        ref.stop()
    return {"pykka_ask_roundtrips_per_s": count / elapsed, "pykka_ask_p99_ms": percentile(latencies, 99) * 1000,
            "_latencies": {"pykka ask": latencies}}


def bench_orchestration(tmp: Path, jobs: int, asks: int = 2000) -> dict[str, Any]:
    from transhades.app.tree import start_tree

    baseline = bench_pykka(asks)  # this machine's message passing, moments before

    # enough workers that the dispatcher, not the worker count, is what limits the rate
    tree = start_tree(bench_config(tmp / "orch", providers=2, instances=4, audio_workers=6),
                      provider_factory=simulated_providers(), preparer=InstantPreparer())
    try:
        warm = Collector(50)
        for i in range(50):
            tree.tell_dispatcher(SubmitJob(JobRequest(f"w{i}", "u", LocalFile(f"/bench/warm/{i}")), warm))
        warm.finish(30, "warm-up")
        collector = Collector(jobs)
        started = time.perf_counter()
        for i in range(jobs):
            tree.tell_dispatcher(SubmitJob(JobRequest(f"j{i}", f"u{i % 50}", LocalFile(f"/bench/{i}")), collector))
        collector.finish(120, "orchestration")
        elapsed = time.perf_counter() - started
    finally:
        tree.stop()
    rate = jobs / elapsed
    return {"orchestration_jobs_per_s": rate, **baseline,
            "orchestration_vs_ask_ratio": rate / baseline["pykka_ask_roundtrips_per_s"]}


def _telegram_tree(tmp: Path, world: Any, credentials: int, parallel: int, **telegram: Any):
    from transhades.app.tree import start_tree
    from transhades.telegram.fake import FakeGateway

    creds = [{"name": f"API-{i}", "api_id": 1000 + i, "api_hash": "h" * 32} for i in range(1, credentials + 1)]
    cfg = bench_config(tmp, telegram={"credentials": creds, "downloads_per_credential": parallel, **telegram})
    return start_tree(cfg, provider_factory=simulated_providers(), preparer=InstantPreparer(),
                      gateway_factory=lambda c, r: FakeGateway(world, c.name, tmp / "sessions", r))


def _wait(condition: Callable[[], bool], timeout: float, what: str, world: Any = None) -> None:
    """Until ``condition``; a timeout fails the benchmark, and so does a failure reply the fake Telegram sent
    (a job that failed must not be waited out, nor counted)."""
    from transhades.devtools.simulate import FAILURE_PREFIX

    deadline = time.monotonic() + timeout
    read = 0  # replies already looked at: each is read once, so the wait costs nothing the benchmark measures
    while not condition():
        if world is not None:
            sent = world.sent[read:]
            read += len(sent)
            failure = next((s.text for s in sent if s.text.startswith(FAILURE_PREFIX)), None)
            if failure is not None:
                raise StepFailed(f"{what}: a job failed ({failure[:160]})")
        if time.monotonic() > deadline:
            raise StepFailed(f"{what}: not done within {timeout:g} s")
        time.sleep(0.002)


def bench_cache_hit(tmp: Path, count: int) -> dict[str, Any]:
    from transhades.telegram.fake import FakeTelegram

    world = FakeTelegram()
    tree = _telegram_tree(tmp / "hit", world, credentials=1, parallel=2)
    try:
        _wait(lambda: world.receiver is not None, 10, "the bot's login")
        first_user = world.user(1)
        original = world.media_message(first_user, b"OggS" + os.urandom(2000))
        world.deliver(original)
        _wait(lambda: any(s.chat_id == 1 and s.text == "simulated" for s in world.sent), 20, "the first note",
              world)
        latencies = []
        for n in range(count):
            user = world.user(10_000 + n)
            sent_before = len(world.sent)
            started = time.monotonic()
            world.deliver(world.forward(original, user))
            _wait(lambda: any(s.chat_id == user.id and s.text == "simulated" for s in world.sent[sent_before:]), 10,
                  "a forwarded duplicate", world)
            answer = next(s for s in world.sent[sent_before:] if s.chat_id == user.id and s.text == "simulated")
            latencies.append(answer.at - started)
            time.sleep(0.04)  # stay under Telegram's 30 messages per second
    finally:
        tree.stop()
    return {"cache_hit_p99_ms": percentile(latencies, 99) * 1000, "cache_hit_p50_ms": percentile(latencies, 50) * 1000,
            "_latencies": {"cache hit": latencies}}


def bench_failover(tmp: Path, count: int) -> dict[str, Any]:
    from transhades.telegram.fake import FakeTelegram

    world = FakeTelegram()
    world.flood_first = 1  # the first attempt at every file is flood-waited for 1 s
    tree = _telegram_tree(tmp / "failover", world, credentials=12, parallel=1)
    try:
        _wait(lambda: world.receiver is not None and len(world.logins) == 12, 10, "12 logins")
        for n in range(count):
            world.deliver(world.media_message(world.user(20_000 + n), b"OggS" + os.urandom(1500)))
            time.sleep(0.1)
        _wait(lambda: sum(1 for s in world.sent if s.text == "simulated") >= count, 60, "the notes", world)
    finally:
        tree.stop()
    floods = {f: t for kind, _, f, t in world.timeline if kind == "flood"}
    retries: dict[str, float] = {}
    for kind, _, f, t in world.timeline:
        if kind == "stream" and f in floods and t >= floods[f]:
            retries.setdefault(f, t)
    latencies = [retries[f] - floods[f] for f in floods if f in retries]
    return {"failover_p99_ms": percentile(latencies, 99) * 1000, "failover_p50_ms": percentile(latencies, 50) * 1000,
            "failover_samples": len(latencies), "_latencies": {"failover": latencies}}


def bench_flood_storm(tmp: Path, jobs: int) -> dict[str, Any]:
    from transhades.telegram.fake import FakeTelegram

    download_seconds = 0.2  # a small voice note over MTProto; the dispatcher's hand-off costs 1-2 ms of it
    size = 200_000
    world = FakeTelegram(bytes_per_second=size / download_seconds)
    world.flood_rate, world.storm_seconds = 0.25, (1, 2)
    tree = _telegram_tree(tmp / "storm", world, credentials=3, parallel=1)
    try:
        _wait(lambda: world.receiver is not None and len(world.logins) == 3, 10, "3 logins")
        started = time.monotonic()
        for n in range(jobs):
            world.deliver(world.media_message(world.user(30_000 + n), os.urandom(size)))
        _wait(lambda: sum(1 for kind, *_ in world.timeline if kind == "done") >= jobs, 300, "the storm's downloads",
              world)
        # download capacity is what this measures; replies are paced by Telegram's limits, not by credentials
        finished = max(t for kind, _, _, t in world.timeline if kind == "done")
    finally:
        tree.stop()
    elapsed = finished - started
    # the ideal bound: every moment a credential was not quarantined, it could have been downloading
    available = 0.0
    for name in (f"API-{i}" for i in (1, 2, 3)):
        blocked = sorted((t, t + w) for c, t, w in world.flood_waits if c == name)
        covered, edge = 0.0, started
        for lo, hi in blocked:
            lo, hi = max(lo, edge), min(hi, finished)
            if hi > lo:
                covered += hi - lo
                edge = hi
        available += elapsed - covered
    ideal = available / download_seconds / elapsed
    achieved = jobs / elapsed
    return {"flood_storm_efficiency": achieved / ideal, "flood_storm_jobs_per_s": achieved,
            "flood_storm_ideal_jobs_per_s": ideal, "flood_storm_floods": len(world.flood_waits),
            "flood_storm_setup": f"3 credentials, 1 download each at a time, {download_seconds:g} s per download, "
                                 f"FloodWait of 1-2 s on {world.flood_rate:.0%} of attempts"}


def bench_credential_spread(tmp: Path, jobs: int) -> dict[str, Any]:
    """Sustained load over three credentials and no floods: how evenly the downloads spread (least / most)."""
    from transhades.telegram.fake import FakeTelegram

    size = 50_000
    world = FakeTelegram(bytes_per_second=size / 0.05)  # 50 ms per download
    tree = _telegram_tree(tmp / "spread", world, credentials=3, parallel=2)
    try:
        _wait(lambda: world.receiver is not None and len(world.logins) == 3, 10, "3 logins")
        for n in range(jobs):  # a steady stream: about one download running at a time
            world.deliver(world.media_message(world.user(40_000 + n), os.urandom(size)))
            time.sleep(0.06)
        _wait(lambda: sum(1 for kind, *_ in world.timeline if kind == "done") >= jobs, 120, "the downloads", world)
    finally:
        tree.stop()
    counts = {f"API-{i}": 0 for i in (1, 2, 3)}
    for kind, credential, _, _ in world.timeline:
        if kind == "done":
            counts[credential] += 1
    return {"credential_spread": min(counts.values()) / max(1, max(counts.values())),
            "credential_spread_downloads": counts}


def bench_parallel_download(tmp: Path, size_mb: int, sessions: int = 3) -> dict[str, Any]:
    """One large file over ``sessions`` sessions, each with the same bandwidth (shared by its own streams),
    against one session: seconds from the first byte asked for to the whole file on disk."""
    from transhades.telegram.fake import FakeTelegram

    data = os.urandom(size_mb << 20)
    seconds = {}
    for count in (1, sessions):
        world = FakeTelegram()
        world.session_bytes_per_second = 40 << 20  # 40 MiB/s per session
        tree = _telegram_tree(tmp / f"download{count}", world, credentials=count, parallel=2)
        try:
            _wait(lambda: world.receiver is not None and len(world.logins) == count, 10, f"{count} logins")
            world.deliver(world.media_message(world.user(50_000 + count), data, kind="video", mime_type="video/mp4"))
            _wait(lambda: any(s.kind == "text" and "simulated" in s.text for s in world.sent), 120, "the large file",
                  world)
            streams = [t for kind, _, _, t in world.timeline if kind in ("stream", "done")]
            seconds[count] = max(streams) - min(streams)
        finally:
            tree.stop()
    return {"parallel_download_speedup": seconds[1] / seconds[sessions],
            "parallel_download_credentials": sessions, "parallel_download_mb": size_mb,
            "parallel_download_seconds_one": seconds[1]}


def _make_audio(path: Path, seconds: int) -> Path:
    subprocess.run([ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency=220:duration={seconds}", "-af", "volume='if(lt(mod(t,20),17),1,0)':eval=frame",
                    "-c:a", "libopus", "-b:a", "32k", str(path)], check=True)
    return path


def bench_audio_prep(tmp: Path, seconds: int, rounds: int = 3) -> dict[str, Any]:
    """Our preparation against the bare ffmpeg command, interleaved in ``rounds`` rounds: the median of the rounds'
    ratios (a moment of noise lands in one round, not in the figure)."""
    import statistics

    source = _make_audio(tmp / "prep-source.ogg", seconds)
    bare = [ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(source), "-map",
            "0:a:0", "-vn", "-ac", "1", "-ar", "16000", "-c:a", "libopus", "-b:a", "24k", "-application", "voip",
            str(tmp / "bare.ogg")]
    preparer = AudioPreparer(tmp / "prep-work")
    bare_times, ours_times = [], []
    for round_ in range(rounds):
        t = time.perf_counter()
        subprocess.run(bare, check=True)
        bare_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        preparer.prepare(f"prep{round_}", source, max_chunk_bytes=25_000_000)
        ours_times.append(time.perf_counter() - t)
    ratios = [ours / bare for ours, bare in zip(ours_times, bare_times, strict=True)]
    return {"audio_prep_ratio": statistics.median(ratios), "audio_prep_seconds": statistics.median(ours_times),
            "audio_prep_bare_seconds": statistics.median(bare_times), "audio_prep_audio_seconds": seconds}


def bench_parallel_chunks(tmp: Path, k: int, seconds: int) -> dict[str, Any]:
    from transhades.app.tree import start_tree

    source = _make_audio(tmp / "chunks-source.ogg", seconds)
    prepared = AudioPreparer(tmp / "chunks-work", chunk_seconds=seconds / (4 * k) + 1).prepare("chunks", source)
    times = {}
    for instances in (1, k):
        tree = start_tree(bench_config(tmp / f"chunks{instances}", providers=1, instances=instances),
                          provider_factory=simulated_providers(0.001), preparer=InstantPreparer(prepared))
        try:
            collector = Collector(1)
            tree.tell_dispatcher(SubmitJob(JobRequest(f"long{instances}", "u", LocalFile(str(source))), collector))
            collector.finish(300, f"the long recording over {instances} provider(s)")
            times[instances] = collector.ended[f"long{instances}"] - collector.stages[f"long{instances}"]
        finally:
            tree.stop()
    return {"parallel_chunk_speedup": times[1] / times[k], "parallel_chunk_k": k,
            "parallel_chunk_count": len(prepared.chunks)}


def bench_first_text(tmp: Path, minutes: int = 60, providers: int = 4) -> dict[str, Any]:
    """A recording of ``minutes`` over ``providers`` simulated providers (time proportional to audio): from the
    start of transcription to the first text delivered, over to the whole transcript."""
    from transhades.app.tree import start_tree
    from transhades.audio import chunking
    from transhades.media import AudioChunk, PreparedAudio

    duration = minutes * 60.0
    spans = chunking.plan(duration, int(duration * 3000), [], None, 600.0, 1.0,
                          config_lib.AudioConfig().first_part_seconds)
    chunks = tuple(AudioChunk(i, str(tmp / f"part{i}.ogg"), s.start, s.end - s.start, 3000, "audio/ogg",
                              s.keep_from, s.keep_until) for i, s in enumerate(spans))
    prepared = PreparedAudio(str(tmp / "whole.ogg"), duration, int(duration * 3000), "audio/ogg", chunks)
    source = tmp / "first-text.ogg"
    source.write_bytes(b"OggS" + b"\0" * 64)
    tree = start_tree(bench_config(tmp / "first-text", providers=providers, instances=1),
                      provider_factory=simulated_providers(0.001), preparer=InstantPreparer(prepared))
    try:
        collector = Collector(1)
        tree.tell_dispatcher(SubmitJob(JobRequest("lecture", "u", LocalFile(str(source))), collector))
        collector.finish(300, "the 60 min recording")
    finally:
        tree.stop()
    began = collector.stages["lecture"]
    first = collector.first_text.get("lecture", collector.ended["lecture"])
    return {"first_text_fraction": (first - began) / (collector.ended["lecture"] - began),
            "first_text_parts": len(chunks), "first_text_providers": providers}


def _tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants, from /proc."""
    total = 0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pids.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


def bench_peak_rss(tmp: Path, size_mb: int) -> dict[str, Any]:
    video = tmp / "large.mkv"
    seconds = max(5, int(size_mb * 1_000_000 / (320 * 240 * 1.5 * 25 + 88_200)))
    subprocess.run([ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc=size=320x240:rate=25:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration={seconds}", "-c:v", "rawvideo", "-pix_fmt", "yuv420p", "-c:a",
                    "pcm_s16le", "-ac", "1", str(video)], check=True)
    script = ("import sys; from pathlib import Path; from transhades.audio.prepare import AudioPreparer, sha256_of;"
              "p = Path(sys.argv[1]); sha256_of(p);"
              "AudioPreparer(Path(sys.argv[2])).prepare('large', p, max_chunk_bytes=25_000_000)")
    process = subprocess.Popen([sys.executable, "-c", script, str(video), str(tmp / "rss-work")])
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, _tree_rss_mb(process.pid))
        time.sleep(0.02)
    if process.returncode != 0:
        raise StepFailed(f"the large video's preparation exited with {process.returncode}")
    actual = video.stat().st_size / 1_000_000
    video.unlink()
    return {"peak_rss_mb_large_video": peak, "large_video_mb": round(actual)}


STORY = (  # about two minutes when espeak-ng reads it
    "The old lighthouse stood on the northern cliff for more than two hundred years. Sailors who passed the rocky "
    "coast at night looked for its steady beam, and the keeper climbed the narrow stairs every evening to trim the "
    "wick and polish the great glass lens. In winter the storms came from the west, and waves broke so high that "
    "salt spray reached the lantern room. The keeper kept a journal of every ship he saw, noting the weather, the "
    "wind, and the colour of the sea. Many years later, a young historian found those journals in a wooden chest "
    "and began to read them one by one. She learned that the keeper had rescued eleven fishermen during a single "
    "terrible night in October, rowing out alone in a small boat while the village slept. Nobody in the town "
    "remembered his name anymore, so she wrote a short book about his life and gave a copy to the school library. "
    "Today the lighthouse is a museum, and children visit it to climb the same stairs, look through the same "
    "glass, and imagine the dark water below. On clear evenings the light still turns, although modern ships no "
    "longer need it to find their way home. "
    "In the valley below the cliff there is a small market that opens every Saturday morning. Farmers bring "
    "baskets of apples, pears and plums, and a baker sells warm bread from a cart painted bright blue. An old man "
    "repairs bicycles under a striped umbrella, and he never charges the students more than a few coins. Last "
    "spring the river flooded the lower road, so the market moved to the school yard for three weeks, and people "
    "said it had never been so busy. The mayor promised a new bridge before the autumn rains, but the workers "
    "found old stones under the riverbank and had to wait for the archaeologists. They discovered the remains of "
    "a mill that had ground flour for the village four centuries ago. Now a small sign near the bridge tells "
    "visitors about the mill, and the baker has named her best loaf after it.")


BENCH_MODELS = Path(tempfile.gettempdir()) / "transhades-bench-models"  # the bundled model, joined once
RATE_16K = 16_000


def _local_tree(tmp: Path) -> Any:
    """The whole tree with the bundled local model as its one provider, the language given by each job."""
    from transhades.app.tree import start_tree

    return start_tree(config_lib.parse({
        "providers": [{"name": "local", "kind": "local", "model": "base"}], "cache": {"backend": "memory"},
        "audio": {"temp_dir": str(tmp / "tmp")}, "data_dir": str(BENCH_MODELS)}, env={}))


def long_speech(tmp: Path, copies: int = 8, text: str = STORY) -> Path:
    """About two minutes of speech: a story read by espeak-ng when it is installed; else the bundled sample,
    over and over (its repetitions make Whisper's plain decoding loop, which flatters the batched pipeline)."""
    import shutil

    if shutil.which("espeak-ng"):
        out = tmp / f"story-{len(text)}.wav"
        subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", str(out), text], check=True)
        return out
    listing = tmp / "speech.txt"
    listing.write_text("".join(f"file '{SAMPLES / 'hello-en.ogg'}'\n" for _ in range(copies)))
    out = tmp / "speech.ogg"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c",
                    "copy", str(out)], check=True)
    return out


def _another(audio: Path) -> Path:
    """The same speech and 10 ms of silence after it: the same work, and no cache hit."""
    import numpy
    import soundfile

    samples, rate = soundfile.read(audio, dtype="int16")
    out = audio.with_name(f"another-{audio.stem}.wav")
    soundfile.write(out, numpy.concatenate([samples, numpy.zeros(rate // 100, numpy.int16)]), rate)
    return out


def bench_local(tmp: Path, rounds: int = 3) -> dict[str, Any]:
    """On about two minutes of speech: a job through the tree on the local provider, against faster-whisper called
    directly the same way (overhead), and our provider against plain ``WhisperModel.transcribe`` (speed-up); the
    direct calls are the best of ``rounds``, interleaved."""
    from transhades.providers.local import LocalWhisper

    speech = long_speech(tmp)
    tree = _local_tree(tmp)
    try:
        runs = []
        warm = long_speech(tmp, copies=4, text=STORY[:len(STORY) // 2])  # other audio: no cache hit
        for audio in (warm, speech, _another(speech)):  # the first warms the model up; the best of the others
            collector = Collector(1)
            started = time.perf_counter()
            tree.tell_dispatcher(SubmitJob(JobRequest(uuid.uuid4().hex, "u", LocalFile(str(audio)), language="en"),
                                           collector))
            collector.finish(600, f"the local job on {audio.name}")
            runs.append(max(collector.ended.values()) - started)
        ours = min(runs[1:])  # best of two, as the direct call is best of three: noise hits both alike
    finally:
        tree.stop()
    prepared = AudioPreparer(tmp / "local-direct", codec="wav").prepare("direct", speech)  # as the tree does
    local = LocalWhisper("local", "base", BENCH_MODELS / "models")
    chunk = prepared.chunks[0]

    calls: dict[str, Callable[[], Any]] = {  # the same settings everywhere: beam 1, voice activity filter, the
        # language given (as a user's setting or a one-language config gives it)
        "direct": lambda: list(local.batched.transcribe(chunk.path, language="en", beam_size=1,
                                                        batch_size=local.batch_size, vad_filter=True)[0]),
        "provider": lambda: local.transcribe(chunk, "en"),
        "plain": lambda: list(local.model.transcribe(chunk.path, language="en", beam_size=1, vad_filter=True)[0]),
    }
    best = {name: float("inf") for name in calls}
    for _ in range(rounds):  # interleaved, the best of each: this machine's drift hits every contender alike
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - started)
    direct, provider, plain = best["direct"], best["provider"], best["plain"]
    return {"local_provider_overhead": ours / direct, "local_provider_seconds": ours, "local_direct_seconds": direct,
            "local_speedup_over_plain": plain / provider, "local_plain_seconds": plain,
            "local_speech_seconds": prepared.duration, "local_speech": speech.name}


def wer_corpus(tmp: Path, quick: bool) -> dict[str, list[Any]]:
    """The recordings scored, by language (and ``joined``): all of them, or the first of each for --quick."""
    from transhades.devtools import recorded

    if quick:  # a minute of each: enough words to tell the methods apart, not the whole corpus
        corpus = {language: recorded.prompts(tmp, language, seconds=60)[:1] for language in recorded.LANGUAGES}
    else:
        corpus = {"en": [recorded.librivox(tmp), *recorded.prompts(tmp, "en")]}
        for language in recorded.LANGUAGES[1:]:
            corpus[language] = recorded.prompts(tmp, language)
    corpus["joined"] = [recorded.joined(tmp)]
    return corpus


def bench_wer(tmp: Path, quick: bool = False) -> dict[str, Any]:
    """Word error rate on real recorded speech in four languages (recorded.py): plain decoding of each recording,
    our long path on it, and its clips one by one (short audio), all by the bundled model with the language given.
    Errors and words are summed over each language's recordings (the corpus's rate, not a mean of rates)."""
    from transhades.audio.prepare import probe
    from transhades.devtools import recorded
    from transhades.media import AudioChunk
    from transhades.providers.local import LocalWhisper

    if recorded.missing():
        raise StepFailed(f"no recorded speech: {recorded.missing()}")
    local = LocalWhisper("local", "base", BENCH_MODELS / "models")

    def ours(path: Path, language: str) -> str:
        chunk = AudioChunk(0, str(path), 0.0, probe(path).duration or 0.0, path.stat().st_size, "audio/wav")
        return local.transcribe(chunk, language).text

    def plain(path: Path, language: str) -> str:
        segments, _ = local.model.transcribe(str(path), language=language, beam_size=1, vad_filter=True)
        return " ".join(s.text.strip() for s in segments)

    out: dict[str, Any] = {}
    timing = {"plain": 0.0, "ours": 0.0, "seconds": 0.0}
    for name, recordings in wer_corpus(tmp, quick).items():
        clips = name != "joined" and not quick  # the joined clips are the other sets' clips
        errors, words = _wer_errors(recordings, "en" if name == "joined" else name, plain, ours, clips, timing)
        if not words:
            raise StepFailed(f"no words in the {name} recordings")
        rates = {method: wrong / words for method, wrong in errors.items()}
        out.update({f"wer_plain_{name}": rates["plain"], f"wer_ours_{name}": rates["ours"],
                    f"wer_ours_minus_plain_{name}": rates["ours"] - rates["plain"], f"wer_words_{name}": words})
        if clips:
            out[f"wer_short_clips_{name}"] = rates["short_clips"]
    return {**out, "wer_speech_seconds": timing["seconds"],
            "wer_speedup_over_plain": timing["plain"] / timing["ours"]}


def _wer_errors(recordings: list[Any], language: str, plain: Callable[[Path, str], str],
                ours: Callable[[Path, str], str], clips: bool, timing: dict[str, float]) -> tuple[dict[str, int], int]:
    """Errors of plain decoding, of our long path and (``clips``) of the clips one by one, summed over
    ``recordings``, and their words; each method's time and the audio's length added to ``timing``."""
    from transhades.audio.prepare import probe
    from transhades.devtools import recorded

    errors = {"plain": 0, "ours": 0, "short_clips": 0}
    words = 0
    for recording in recordings:
        for method, decode in (("plain", plain), ("ours", ours)):
            started = time.perf_counter()
            heard = decode(recording.path, language)
            timing[method] += time.perf_counter() - started
            errors[method] += recorded.word_errors(recording.reference, heard, language)[0]
        if clips:
            short = " ".join(ours(clip, language) for clip in recording.clips)
            errors["short_clips"] += recorded.word_errors(recording.reference, short, language)[0]
        words += recorded.word_errors(recording.reference, "", language)[1]
        timing["seconds"] += probe(recording.path).duration or 0.0
    return errors, words


def _local_transcription(path: Path, language: str) -> tuple[Any, Any, float]:
    """The bundled model, the file as its chunk, and the seconds of a warm transcription of it (the denominator
    of the speakers' time)."""
    from transhades.audio.prepare import probe
    from transhades.media import AudioChunk
    from transhades.providers.local import LocalWhisper

    local = LocalWhisper("local", "base", BENCH_MODELS / "models")
    chunk = AudioChunk(0, str(path), 0.0, probe(path).duration or 0.0, path.stat().st_size, "audio/wav")
    local.transcribe(chunk, language)  # warm
    started = time.perf_counter()
    local.transcribe(chunk, language)
    return local, chunk, time.perf_counter() - started


def bench_speakers(tmp: Path) -> dict[str, Any]:
    """Who said what on generated dialogues (distinct espeak-ng voices, known turns; two and three speakers, short
    and long gaps): the diarization error rate with a 0.25 s collar and with none, whether the number of speakers
    was right, and the time the diarizer adds against the local model's transcription of the same audio."""
    import statistics

    import soundfile

    from transhades.devtools.dialogue import RATE, dialogue, diarization_error_rate
    from transhades.speakers.local import LocalDiarizer

    diarizer = LocalDiarizer()
    diarizer.turns(dialogue(1, turns=2)[0])  # loads the model: a running actor has it loaded already
    collared, uncollared, counted = [], [], []
    seconds = spent = 0.0
    for gap in (0.4, 1.5):  # short gaps: the collar hides them; long ones: silence that must be scored
        for speakers in (2, 3):
            audio, reference = dialogue(speakers, gap=gap)
            started = time.perf_counter()
            turns = [(t.start, t.end, t.speaker) for t in diarizer.turns(audio)]
            spent += time.perf_counter() - started
            seconds += len(audio) / RATE
            collared.append(diarization_error_rate(reference, turns, collar=0.25))
            uncollared.append(diarization_error_rate(reference, turns, collar=0.0))
            counted.append(len({who for *_, who in turns}) == speakers)
            if speakers == 3 and gap == 0.4:
                three = audio
    diarizer.close()
    path = tmp / "dialogue.wav"
    soundfile.write(path, three, RATE)
    _, _, transcribing = _local_transcription(path, "en")
    diarizing = spent * (len(three) / RATE) / seconds
    return {"der_synthetic_collar_mean": statistics.mean(collared), "der_synthetic_collar_worst": max(collared),
            "der_synthetic_nocollar_mean": statistics.mean(uncollared),
            "der_synthetic_nocollar_worst": max(uncollared),
            "speaker_count_accuracy_synthetic": sum(counted) / len(counted),
            "speakers_time_fraction_of_local": diarizing / transcribing,
            "speakers_seconds_per_minute": spent / seconds * 60}


def _clipped(spans: list[tuple[float, float, int]], cover: list[tuple[float, float]]) -> list[tuple[float, float, int]]:
    """The parts of ``spans`` inside ``cover`` (sorted, disjoint)."""
    return [(max(a, c), min(b, d), who) for a, b, who in spans for c, d in cover if min(b, d) > max(a, c)]


def bench_speakers_real(tmp: Path) -> dict[str, Any]:
    """Who said what on dialogues of real recorded people (voices.py: telephone band, one loudness, 2 and 3
    speakers, mixed and same gender, known turns): DER with a 0.25 s collar and with none, whether the number of
    speakers was right, the diarizer's time against the local model's transcription of the same audio, and the
    labelled transcript (words split where the speaker changes) scored like the diarizer's own turns on the same
    words (the dialogue of two Italian voices, so that every turn is transcribed in its language)."""
    import statistics

    import soundfile

    from transhades.devtools import voices
    from transhades.devtools.dialogue import diarization_error_rate
    from transhades.speakers.align import labelled
    from transhades.speakers.local import LocalDiarizer

    if voices.missing():
        raise StepFailed(voices.missing())
    diarizer = LocalDiarizer()
    diarizer.turns(voices.build(voices.SET[0]).audio[:RATE_16K * 5])  # loads the model, as a running actor has
    collared, uncollared, counted = [], [], []
    seconds = spent = 0.0
    for spec in voices.SET:
        dialogue = voices.build(spec)
        started = time.perf_counter()
        turns = diarizer.turns(dialogue.audio)
        spent += time.perf_counter() - started
        seconds += len(dialogue.audio) / RATE_16K
        found = [(t.start, t.end, t.speaker) for t in turns]
        collared.append(diarization_error_rate(dialogue.reference, found, collar=0.25))
        uncollared.append(diarization_error_rate(dialogue.reference, found, collar=0.0))
        counted.append(len({who for *_, who in found}) == len(spec.voices))
    italian = next(spec for spec in voices.SET if set(spec.voices) == {"carlo", "menardi"})
    dialogue = voices.build(italian)
    path = tmp / f"{italian.name}.wav"
    soundfile.write(path, dialogue.audio, RATE_16K, subtype="PCM_16")
    local, chunk, transcribing = _local_transcription(path, "it")
    started = time.perf_counter()
    turns = diarizer.turns(dialogue.audio)
    diarizing = time.perf_counter() - started
    diarizer.close()
    words = local.transcribe(chunk, "it", speakers=True)  # as a job with speakers on asks: every word timed
    cover = [(w.start, w.end) for s in words.segments for w in s.words]
    pieces = [(w.start, w.end, int(s.speaker)) for s in labelled(words, turns).segments if s.speaker for w in s.words]
    reference = _clipped(dialogue.reference, cover)
    own = _clipped([(t.start, t.end, t.speaker) for t in turns], cover)
    return {"der_real_collar_mean": statistics.mean(collared), "der_real_collar_worst": max(collared),
            "der_real_nocollar_mean": statistics.mean(uncollared), "der_real_nocollar_worst": max(uncollared),
            "speaker_count_accuracy_real": sum(counted) / len(counted), "der_real_dialogues": len(collared),
            "speakers_real_seconds_per_minute": spent / seconds * 60,
            "speakers_real_time_fraction_of_local": diarizing / transcribing,
            "der_labelled_minus_turns": diarization_error_rate(reference, pieces, collar=0.0)
            - diarization_error_rate(reference, own, collar=0.0)}


def bench_speakers_named() -> dict[str, Any]:
    """Names remembered per chat (transhades/speakers/names.py) on the real-voice set: each dialogue's people
    again, in two dialogues that share no recording. In the first the user names every voice (all of them, or one
    at a time); in the second, each turn counts as named right, named wrong or left a number, by the speaker
    found over most of it. Wrong names are counted too in chats that know only the voices of other dialogues'
    people, absent from this one."""
    from dataclasses import replace

    from transhades.devtools import voices
    from transhades.speakers.align import speaker_at
    from transhades.speakers.local import LocalDiarizer
    from transhades.speakers.names import match

    if voices.missing():
        raise StepFailed(voices.missing())
    diarizer = LocalDiarizer()
    pairs = []
    for spec in voices.SET:
        first, second = (voices.build(replace(spec, clips=clips, seed=spec.seed + shift))
                         for clips, shift in (("even", 300), ("odd", 350)))
        found, again = diarizer.diarize(first.audio), diarizer.diarize(second.audio)
        prints = {spec.voices[_said_most(found.turns, first.reference, speaker) - 1]: list(vector)
                  for speaker, vector in found.voices.items()}  # as a user names them: each by who it is
        pairs.append((spec, prints, again, second))
    diarizer.close()
    right, named_speech, wrong, speech = _named_scores(pairs, match, speaker_at)
    return {"voices_named_right": right / named_speech, "voices_named_wrong": wrong / speech,
            "voices_named_pairs": len(pairs)}


def _named_scores(pairs: list[Any], match: Any, speaker_at: Any) -> tuple[float, float, float, float]:
    """(turns named right, turns of named voices, turns named wrong, all turns), over every chat: all voices named,
    each alone, and only other dialogues' people. A turn's name is that of the speaker found over most of it."""
    right = named_speech = wrong = speech = 0.0
    for spec, prints, again, second in pairs:
        heard = [(str(k), list(v)) for k, v in again.voices.items()]
        chats = [prints] + [{name: vector} for name, vector in prints.items()]
        chats += [{name: vector for name, vector in other.items() if name not in spec.voices}
                  for _, other, _, _ in pairs if set(other) - set(spec.voices)]
        for known in chats:
            names = match(heard, known)
            for start, end, speaker in second.turns:
                said_by, given = spec.voices[speaker - 1], names.get(str(speaker_at(again.turns, start, end)))
                speech += 1
                named_speech += 1 if said_by in known else 0
                right += 1 if given is not None and given == said_by else 0
                wrong += 1 if given is not None and given != said_by else 0
    return right, named_speech, wrong, speech


def _said_most(turns: Any, reference: list[tuple[float, float, int]], speaker: int) -> int:
    """The reference speaker who says most of what the diarizer gave ``speaker``."""
    said: dict[int, float] = {}
    for turn in turns:
        if turn.speaker == speaker:
            for start, end, who in reference:
                said[who] = said.get(who, 0.0) + max(0.0, min(end, turn.end) - max(start, turn.start))
    return max(said, key=said.__getitem__)


def bench_dev_install(tmp: Path) -> dict[str, Any]:
    """A fresh virtual environment, ``pip install -e ".[dev]"`` of this checkout in it: how long, how large, and
    whether anything of torch or CUDA came with it (pip's cache as this machine has it; the registry for the rest)."""
    import shutil

    root = SAMPLES.parent
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    started = time.perf_counter()
    done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-e",
                           f"{root}[dev]"], capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise StepFailed(f"pip install -e .[dev] exited with {done.returncode}: {done.stderr.strip()[-300:]}")
    listed = subprocess.run([str(venv / "bin" / "pip"), "list", "--format=freeze"], capture_output=True, text=True,
                            check=True).stdout.lower().splitlines()
    heavy = [line.split("==")[0] for line in listed if line.startswith(("torch", "nvidia-", "triton", "librosa"))]
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    shutil.rmtree(venv, ignore_errors=True)
    return {"dev_install_mb": size / 1e6, "dev_install_seconds": seconds, "dev_install_packages": len(listed),
            "dev_install_heavy_packages": len(heavy), "dev_install_heavy": ", ".join(heavy) or "none"}


def bench_first_words(tmp: Path, seconds: int = 150) -> dict[str, Any]:
    """A voice note of about ``seconds`` of speech through the tree on the local model: when its first words
    reach the listener, against the whole job's time."""
    import shutil

    if not shutil.which("espeak-ng"):
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    note = tmp / "note-150.wav"
    speed = max(80, int(150 * 120 / seconds))  # the story takes about 120 s at 150 words a minute
    subprocess.run(["espeak-ng", "-v", "en", "-s", str(speed), "-w", str(note), STORY], check=True)
    tree = _local_tree(tmp)
    try:
        warm = Collector(1)  # the model loads with the first job
        tree.tell_dispatcher(SubmitJob(JobRequest("warm", "u", LocalFile(str(SAMPLES / "hello-en.ogg"))), warm))
        warm.finish(300, "the warm-up job")
        collector = Collector(1)
        started = time.perf_counter()
        tree.tell_dispatcher(SubmitJob(JobRequest("note", "u", LocalFile(str(note)), language="en"), collector))
        collector.finish(600, "the 150 s voice note")
    finally:
        tree.stop()
    whole = collector.ended["note"] - started
    first = collector.first_text.get("note", collector.ended["note"]) - started
    return {"first_words_seconds_local": first, "first_words_job_seconds_local": whole,
            "first_words_fraction_local": first / whole}


def bench_fair_local(tmp: Path, minutes: int) -> dict[str, Any]:
    """The local model alone, shared: user A's long recording (``minutes`` of the story, over and over) is being
    decoded part by part when user B sends a 6 s note; how long B waits for its transcript, against the same note on
    the idle tree. Then A cancels, and B's next note is sent at that moment: how long the model stays busy with A's
    part after the /cancel (B's answer time past the note's own)."""
    import shutil

    if not shutil.which("espeak-ng"):
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    story = long_speech(tmp)
    listing = tmp / "long.txt"
    copies = max(1, round(minutes * 60 / 120))
    listing.write_text("".join(f"file '{story}'\n" for _ in range(copies)))
    long = tmp / f"long-{minutes}.wav"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c",
                    "copy", str(long)], check=True)
    notes = []
    for n, sentence in enumerate(("Please send the minutes of the meeting to everyone before Friday.",
                                  "The train to the airport leaves at seven in the morning.",
                                  "Remember to water the plants while I am away next week.")):
        note = tmp / f"note-{n}.wav"
        subprocess.run(["espeak-ng", "-v", "en", "-s", "110", "-w", str(note), sentence], check=True)
        notes.append(note)
    tree = _local_tree(tmp)

    def note_of(user: str, path: Path, job_id: str) -> tuple[Collector, float]:
        collector = Collector(1)
        started = time.perf_counter()
        tree.tell_dispatcher(SubmitJob(JobRequest(job_id, user, LocalFile(str(path)), language="en"), collector))
        return collector, started

    try:
        warm, _ = note_of("w", SAMPLES / "hello-en.ogg", "warm")  # the model loads with the first job
        warm.finish(300, "the warm-up job")
        alone, started = note_of("B", notes[0], "alone")
        alone.finish(120, "the note on the idle model")
        alone_seconds = alone.ended["alone"] - started
        big = Collector(1)
        tree.tell_dispatcher(SubmitJob(JobRequest("long", "A", LocalFile(str(long)), language="en"), big))
        deadline = time.monotonic() + 600
        while "long" not in big.first_text and "long" not in big.ended and time.monotonic() < deadline:
            time.sleep(0.02)  # A's first part is done: the note comes while the next part is being decoded
        if "long" in big.ended or "long" not in big.first_text:
            raise StepFailed(f"the long recording never reached its second part ({big.failures or 'timeout'})")
        waited, started = note_of("B", notes[1], "during")
        waited.finish(600, "the note sent while a long recording runs")
        during_seconds = waited.ended["during"] - started
        long_running = "long" not in big.ended  # the note did not wait for the whole recording
        time.sleep(1.0)  # A's next part is under way
        after = Collector(1)
        cancelled_at = time.perf_counter()
        tree.tell_dispatcher(CancelJob("long"))
        tree.tell_dispatcher(SubmitJob(JobRequest("after", "B", LocalFile(str(notes[2])), language="en"), after))
        after.finish(600, "the note sent with the /cancel")
        after_seconds = after.ended["after"] - cancelled_at
        big.done.wait(10)
    finally:
        tree.stop()
    return {"local_fair_note_seconds": during_seconds, "local_note_alone_seconds": alone_seconds,
            "local_fair_long_minutes": copies * 2, "local_cancel_busy_seconds": max(0.0, after_seconds - alone_seconds),
            "local_cancel_next_note_seconds": after_seconds, "local_fair_long_still_running": long_running,
            "local_fair_long_ended": big.failures.get("long", "completed" if "long" in big.ended else "running")}


def _without(text: str, terms: tuple[str, ...]) -> str:
    """The text with every term taken out (the other words, for their error rate)."""
    for term in sorted(terms, key=len, reverse=True):
        text = re.sub(re.escape(term), " ", text, flags=re.IGNORECASE)
    return text


def bench_vocab(tmp: Path) -> dict[str, Any]:
    """Sentences with rare names and terms (Indonesian and English, espeak-ng) through the bundled local model as the
    provider actor runs it, with and without the vocabulary (every term of the set, as a chat lists them): how many
    of the said terms come out spelled as listed, the error rate of the other words, and the words of the vocabulary
    written where they were not said (in sentences without terms, in silence, and other terms' words in a sentence).
    Whisper's own hotwords alone are measured beside them, to show why they are not used alone."""
    import shutil

    from transhades.devtools.recorded import normalized, word_errors
    from transhades.devtools.vocab_set import WITH_TERMS, WITHOUT_TERMS, vocabulary
    from transhades.media import AudioChunk
    from transhades.providers.local import LocalWhisper
    from transhades.vocabulary.correct import applied
    from transhades.vocabulary.terms import as_prompt

    if not shutil.which("espeak-ng"):
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    terms = vocabulary()
    listed = {word for term in terms for word in normalized(term) if len(word) >= 4}
    local = LocalWhisper("local", "base", BENCH_MODELS / "models")
    silence = tmp / "vocab-silence.wav"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "8",
                    str(silence)], check=True)
    ways = ("plain", "vocab", "hotwords")
    found, inserted, errors = dict.fromkeys(ways, 0), dict.fromkeys(ways, 0), dict.fromkeys(ways, 0)
    words = said_count = 0
    seconds = dict.fromkeys(ways, 0.0)
    cases = [(lang, text) for lang, text, _ in WITH_TERMS] + list(WITHOUT_TERMS) + [("id", "")]
    for n, (lang, text) in enumerate(cases):
        audio = silence
        if text:
            audio = tmp / f"vocab-{n}.wav"
            subprocess.run(["espeak-ng", "-v", lang, "-s", "140", "-w", str(audio), text], check=True)
        chunk = AudioChunk(0, str(audio), 0.0, 5.0, audio.stat().st_size, "audio/wav")
        calls = {"plain": lambda: local.transcribe(chunk, lang).text,
                 "vocab": lambda: applied(local.transcribe(chunk, lang, vocabulary=terms), terms).text,
                 "hotwords": lambda: " ".join(s.text.strip() for s in local.model.transcribe(
                     str(audio), language=lang, beam_size=1, vad_filter=True, hotwords=as_prompt(terms))[0])}
        said = tuple(term for term in terms if term.casefold() in text.casefold())
        said_count += len(said)
        reference = set(normalized(text))
        other = _without(text, said)
        words += word_errors(other, other)[1]
        for way, call in calls.items():
            started = time.perf_counter()
            out = call()
            seconds[way] += time.perf_counter() - started
            found[way] += sum(term.casefold() in out.casefold() for term in said)
            inserted[way] += sum(1 for word in normalized(out) if word in listed and word not in reference)
            errors[way] += word_errors(other, _without(out, terms), lang)[0]
    return {"vocab_recall": found["vocab"] / said_count, "vocab_recall_plain": found["plain"] / said_count,
            "vocab_recall_hotwords": found["hotwords"] / said_count,
            "vocab_false_insertions": inserted["vocab"], "vocab_false_insertions_plain": inserted["plain"],
            "vocab_false_insertions_hotwords": inserted["hotwords"],
            "vocab_other_wer": errors["vocab"] / words, "vocab_other_wer_plain": errors["plain"] / words,
            "vocab_other_wer_hotwords": errors["hotwords"] / words,
            "vocab_other_wer_rise": (errors["vocab"] - errors["plain"]) / words,
            "vocab_time_ratio": seconds["vocab"] / seconds["plain"], "vocab_terms": len(terms),
            "vocab_sentences": len(cases), "vocab_terms_said": said_count}


def _wav_seconds(path: str) -> float:
    import wave

    with wave.open(path) as wav:
        return wav.getnframes() / wav.getframerate()


def _joined(tmp: Path, name: str, files: list[Path], gap: Path) -> Any:
    """The files one after another, ``gap`` after each, as one recording's chunk."""
    from transhades.media import AudioChunk

    listing, note = tmp / f"{name}.txt", tmp / f"{name}.wav"
    listing.write_text("".join(f"file '{f}'\nfile '{gap}'\n" for f in files))
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c:a", "pcm_s16le", str(note)], check=True)
    return AudioChunk(0, str(note), 0.0, _wav_seconds(str(note)), note.stat().st_size, "audio/wav")


def _spoken(tmp: Path, name: str, voice: str, text: str) -> Path:
    """``text`` read by espeak-ng's ``voice``, as 16 kHz mono."""
    raw, out = tmp / f"{name}.raw.wav", tmp / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-i", str(raw), "-ar", "16000", "-ac", "1", str(out)],
                   check=True)
    return out


class _Tally:
    """Word errors and seconds per way of decoding, for the mixed-language benchmark."""

    def __init__(self, local: Any) -> None:
        self.local = local
        self.errors: dict[str, int] = {}
        self.words: dict[str, int] = {}
        self.seconds: dict[str, float] = {}

    def decode(self, way: str, chunk: Any, reference: str, language: str, per_part: bool) -> Any:
        from transhades.devtools.recorded import word_errors

        self.local.per_part = per_part
        started = time.perf_counter()
        heard = self.local.transcribe(chunk, None, languages=("id", "en"))
        self.seconds[way] = self.seconds.get(way, 0.0) + time.perf_counter() - started
        self.count(way, *word_errors(reference, heard.text, language))
        return heard

    def count(self, way: str, errors: int, words: int) -> None:
        self.errors[way] = self.errors.get(way, 0) + errors
        self.words[way] = self.words.get(way, 0) + words

    def rate(self, way: str) -> float:
        return self.errors[way] / self.words[way]


def bench_mixed(tmp: Path, quick: bool) -> dict[str, Any]:
    """Recordings alternating Indonesian and English turns (espeak-ng, several voices, about 16 s turns) through
    the bundled local model with the shipped languages (id, en), each part in its language; beside it, the same
    recordings with one language detected for the whole (``language_per_part: false``, as before), and each turn
    alone with its language given (``wer_id``, ``wer_en``). A part is in the wrong language when a segment's
    middle lies in a turn of the other. The first recording's turns of each language, joined, are a one-language
    recording: telling its parts apart must cost and err no more than before."""
    import shutil

    from transhades.devtools.mixed_set import recordings
    from transhades.providers.local import LocalWhisper

    if not shutil.which("espeak-ng"):
        raise FileNotFoundError("espeak-ng is not installed (apt-get install espeak-ng)")
    tally = _Tally(LocalWhisper("local", "base", BENCH_MODELS / "models"))
    gap = tmp / "mixed-gap.wav"
    subprocess.run([ffmpeg_binary(), "-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0.8",
                    str(gap)], check=True)
    wrong = segments = 0
    durations = []
    for n, turns in enumerate(recordings(quick)):
        files = [_spoken(tmp, f"mixed-{n}-{k}", voice, text) for k, (_, voice, text) in enumerate(turns)]
        chunk = _joined(tmp, f"mixed-{n}", files, gap)
        durations.append(chunk.duration)
        reference = " ".join(text for _, _, text in turns)
        if n == 0:
            tally.local.transcribe(chunk, None, languages=("id", "en"))  # warm
            for language in ("id", "en"):
                alone = _joined(tmp, f"one-{language}", [f for f, t in zip(files, turns, strict=True)
                                                          if t[0] == language], gap)
                said = " ".join(t[2] for t in turns if t[0] == language)
                tally.decode("mono_parts", alone, said, language, True)
                tally.decode("mono_single", alone, said, language, False)
        heard = tally.decode("mixed", chunk, reference, "id", True)
        tally.decode("single", chunk, reference, "id", False)
        bounds = _turn_bounds(files, [t[0] for t in turns])
        for segment in heard.segments:
            middle = (segment.start + segment.end) / 2
            truth = next((lang for start, end, lang in bounds if start - 0.4 <= middle <= end + 0.4), None)
            segments += 1
            wrong += truth is not None and segment.language != truth
        _each_alone(tally, files, turns)
    rate = {way: tally.rate(way) for way in tally.errors}
    seconds = tally.seconds
    return {"wer_mixed": rate["mixed"], "wer_mixed_one_language": rate["single"], "wer_id": rate["id"],
            "wer_en": rate["en"], "wer_mixed_over_alone": rate["mixed"] - (rate["id"] + rate["en"]) / 2,
            "mixed_parts_wrong_language": wrong, "mixed_segments": segments,
            "mixed_time_ratio": seconds["mixed"] / seconds["single"], "mixed_recordings": len(durations),
            "one_language_time_ratio": seconds["mono_parts"] / seconds["mono_single"],
            "one_language_wer_rise": rate["mono_parts"] - rate["mono_single"], "one_language_wer": rate["mono_parts"],
            "mixed_seconds_min": min(durations), "mixed_seconds_max": max(durations)}


def _turn_bounds(files: list[Path], languages: list[str]) -> list[tuple[float, float, str]]:
    """Each turn's start, end and language in the joined recording (0.8 s of silence after each)."""
    bounds, at = [], 0.0
    for f, language in zip(files, languages, strict=True):
        length = _wav_seconds(str(f))
        bounds.append((at, at + length, language))
        at += length + 0.8
    return bounds


def _each_alone(tally: _Tally, files: list[Path], turns: list[tuple[str, str, str]]) -> None:
    """Each turn alone, its language given: ``wer_id`` and ``wer_en``."""
    from transhades.devtools.recorded import word_errors
    from transhades.media import AudioChunk

    for k, (f, (language, _, text)) in enumerate(zip(files, turns, strict=True)):
        alone = AudioChunk(k, str(f), 0.0, _wav_seconds(str(f)), f.stat().st_size, "audio/wav")
        tally.count(language, *word_errors(text, tally.local.transcribe(alone, language).text, language))


# ================================================================================================ the run


def bench_chaos(jobs: int) -> dict[str, Any]:
    """The issue's chaos run (5 % crashes of any actor, 10 % FloodWaits, 10 % provider errors, 10 % duplicates),
    with a fixed seed: nothing may be lost or answered twice."""
    from transhades.devtools.simulate import Options
    from transhades.devtools.simulate import run as simulate

    r = simulate(Options(jobs=jobs, crash_rate=0.05, flood_rate=0.1, provider_error_rate=0.1, duplicate_rate=0.1,
                         seed=7))
    if r.get("tree_stopped"):
        raise StepFailed(f"the actor tree stopped: {r['tree_stopped']}")
    return {"chaos_jobs": r["submitted"], "chaos_completed": r["completed"], "chaos_failed": r["failed"],
            "chaos_lost": r["lost"], "chaos_duplicate_replies": r["duplicate_replies"], "chaos_restarts": r["restarts"],
            "chaos_quarantines": r["quarantines"],
            "chaos_refused_repeats": r["refused_repeats"], "chaos_throughput_jobs_per_s": r["throughput_jobs_per_s"],
            "chaos_latency_p99_ms": r["latency_ms"]["p99"], "chaos_seconds": r["seconds"]}


def bench_scale_out(tmp: Path, jobs_per_worker: int) -> dict[str, Any]:
    """Jobs per second with four worker processes over four times one's (needs Redis: TRANSHADES_REDIS_URL)."""
    from transhades.audio.prepare import ffmpeg_binary
    from transhades.devtools.scaling import bench_scale_out as scale_out

    url = os.environ.get("TRANSHADES_REDIS_URL", "redis://127.0.0.1:6379/15")
    folder = tmp / "scale"
    folder.mkdir(exist_ok=True)
    media = []
    for n in range(jobs_per_worker * 5 + 8):  # distinct recordings: a repeat would be a cache hit
        out = folder / f"m{n}.ogg"
        subprocess.run([ffmpeg_binary(), "-v", "error", "-f", "lavfi", "-i", f"sine=frequency={200 + 3 * n}:duration=2",
                        "-c:a", "libopus", "-b:a", "16k", str(out)], check=True)
        media.append(out.read_bytes())
    return scale_out(folder, jobs_per_worker, media, url)


def bench_cpu_per_note(notes: int) -> dict[str, Any]:
    """All processes' CPU per 10 s voice note, single process and cluster, against bare ffmpeg (same run)."""
    from transhades.devtools.cpu import bench_cpu_per_note as measure

    return measure(notes)




def write(result: dict[str, Any], out: Path) -> None:
    latencies = result.pop("_latencies", {})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        result.setdefault("notes", []).append("no plot: pip install matplotlib (the bench extra)")
        return
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for label, values in latencies.items():
        if not values:
            continue
        ordered = sorted(v * 1000 for v in values)
        fractions = [(i + 1) / len(ordered) for i in range(len(ordered))]
        line, = axis.step(ordered, fractions, where="post", label=f"{label} (n={len(ordered)}, "
                                                                  f"p99 {percentile(ordered, 99):.2f} ms)")
        axis.axvline(percentile(ordered, 99), color=line.get_color(), linestyle=":", linewidth=1)
    axis.set_xscale("log")
    axis.set_xlabel("milliseconds (log scale)")
    axis.set_ylabel("fraction of samples at or below")
    axis.set_title("transhades latencies (dotted: p99)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="lower right")
    figure.tight_layout()
    figure.savefig(out.with_suffix(".png"), dpi=100)
    plt.close(figure)
