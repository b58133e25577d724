"""The scale-out benchmark: jobs per second with one worker process against four, each worker a real
``transhades run --role worker`` process on the real Redis, downloading from the shared fake Telegram and sending
to a loopback OpenAI-compatible server that answers after a fixed time (so the figure measures the cluster, not a
provider). Then one worker is killed with SIGKILL while it holds jobs: how long until another takes them over.

This process plays the front: it publishes the jobs and reads the results stream.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from transhades.cluster.bus import WORKERS, JobBus
from transhades.cluster.codec import final
from transhades.devtools.lab import Provider
from transhades.media import TelegramFile
from transhades.messages import Completed, JobRequest

PROVIDER_SECONDS = 0.5  # each transcription takes this long at the loopback provider
LEASE_SECONDS = 2.0


class ScaleOut:
    def __init__(self, tmp: Path, redis_url: str, media: list[bytes]) -> None:
        from transhades.telegram.fake import SharedTelegram

        self.tmp, self.redis_url = tmp, redis_url
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"
        import redis

        self.redis = redis.Redis.from_url(redis_url)
        self.bus = JobBus(self.redis, self.prefix, LEASE_SECONDS).ensure()
        self.provider = Provider(PROVIDER_SECONDS, text="scaled")
        self.world_path = tmp / "world.sqlite3"
        self.world = SharedTelegram(self.world_path)
        self.media = [self._post(data) for data in media]
        self.workers: list[subprocess.Popen] = []

    def _post(self, data: bytes) -> TelegramFile:
        number = self.world.post_voice(900, data, duration=2)
        unique = f"AgAD{number}"
        return TelegramFile(900, number, f"fid-{unique}-1", unique, len(data), "voice", "audio/ogg", 2.0)

    def start_worker(self, n: int) -> subprocess.Popen:
        home = self.tmp / f"{self.prefix}-w{n}-{len(self.workers)}"
        home.mkdir()
        config = home / "config.yaml"
        config.write_text(json.dumps({
            "providers": [{"name": "slow", "kind": "openai", "base_url": f"{self.provider.url}/v1", "api_key": "k",
                           "instances": 2, "http_attempts": 1}],
            "cache": {"backend": "memory"}, "audio": {"workers": 2, "temp_dir": str(home / "tmp")},
            "dispatcher": {"max_concurrent_jobs": 4, "per_user_limit": 4}, "data_dir": str(home / "data"),
            "telegram": {"bot_token": "1:" + "t" * 35, "session_dir": str(home / "sessions"),
                         "credentials": [{"name": f"API-{n}", "api_id": 1000 + n, "api_hash": "h" * 32}]},
            "cluster": {"redis_url": self.redis_url, "lease_seconds": LEASE_SECONDS, "prefix": self.prefix},
            "http": {"port": 0}, "logging": {"level": "warning"}}))
        env = {**os.environ, "TRANSHADES_FAKE_TELEGRAM": str(self.world_path)}
        process = subprocess.Popen([sys.executable, "-m", "transhades.app.cli", "run", "--role", "worker", "--config",
                                    str(config)], cwd=home, env=env, stdout=subprocess.DEVNULL,
                                   stderr=open(home / "log", "w"))
        self.workers.append(process)
        return process

    def wait_for_workers(self, count: int, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if len(self.redis.hkeys(f"{self.prefix}:processes")) >= count:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{count} worker(s) did not start within {seconds:.0f} s")

    def run_jobs(self, media: list[TelegramFile]) -> float:
        """Publish the jobs, wait for every final event; jobs per second from the first publish to the last."""
        tag = uuid.uuid4().hex[:6]
        wanted = {f"bench-{tag}-{n}" for n in range(len(media))}
        began = time.monotonic()
        for n, file in enumerate(media):
            self.bus.publish(JobRequest(f"bench-{tag}-{n}", "900", file, None, None, "en"))
        done: set[str] = set()
        while done < wanted:
            if time.monotonic() - began > 300:
                raise RuntimeError(f"only {len(done)} of {len(wanted)} jobs finished")
            for entry_id, event in self.bus.events("bench", block_ms=200):
                self.bus.done_with_event(entry_id)
                if final(event) and event.job_id in wanted:
                    if not isinstance(event, Completed):
                        raise RuntimeError(f"job failed: {event}")
                    done.add(event.job_id)
        return len(wanted) / (time.monotonic() - began)

    def takeover_seconds(self, media: list[TelegramFile]) -> float:
        """Kill a worker holding jobs with SIGKILL; seconds until none of its entries is left pending on it."""
        for n, file in enumerate(media):
            self.bus.publish(JobRequest(f"takeover-{n}", "900", file, None, None, "en"))
        by_pid = {f"-{p.pid}-": p for p in self.workers if p.poll() is None}
        victim, held = None, ""
        deadline = time.monotonic() + 30
        while victim is None and time.monotonic() < deadline:
            for consumer in self._holders():
                victim = next((p for tag, p in by_pid.items() if tag in consumer), None)
                if victim is not None:
                    held = consumer
                    break
            time.sleep(0.01)
        if victim is None:
            raise RuntimeError("no worker took the jobs")
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        killed = time.monotonic()
        while held in self._holders():
            if time.monotonic() - killed > 60:
                raise RuntimeError("the dead worker's jobs were not taken over within 60 s")
            time.sleep(0.02)
        return time.monotonic() - killed

    def _holders(self) -> set[str]:
        """The consumers (workers) that hold pending job entries."""
        rows = self.redis.xpending_range(self.bus.jobs, WORKERS, "-", "+", 1000)
        return {row["consumer"].decode() if isinstance(row["consumer"], bytes) else str(row["consumer"])
                for row in rows}

    def close(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait()
        self.provider.close()
        for key in self.redis.keys(f"{self.prefix}:*"):
            self.redis.delete(key)


def bench_scale_out(tmp: Path, jobs_per_worker: int, media: list[bytes], redis_url: str) -> dict[str, Any]:
    workers = 4
    scale = ScaleOut(tmp, redis_url, media)
    try:
        files = scale.media
        scale.start_worker(1)
        scale.wait_for_workers(1)
        one = scale.run_jobs(files[:jobs_per_worker])
        for n in range(2, workers + 1):
            scale.start_worker(n)
        scale.wait_for_workers(workers)
        many = scale.run_jobs(files[jobs_per_worker:jobs_per_worker * (workers + 1)])
        takeover = scale.takeover_seconds(files[jobs_per_worker * (workers + 1):][:8])  # fresh: no cache hits
    finally:
        scale.close()
    return {"scale_out_workers": workers, "scale_out_jobs_per_s_one": one, "scale_out_jobs_per_s_many": many,
            "scale_out_efficiency": many / (workers * one), "worker_takeover_seconds": takeover,
            "worker_lease_seconds": LEASE_SECONDS}
