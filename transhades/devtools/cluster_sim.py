"""``transhades simulate --cluster``: a front, a standby and N workers as real ``transhades run`` processes, against
Redis and PostgreSQL servers of the simulation's own, the shared fake Telegram and a loopback provider; faults are
injected on a schedule while voice notes keep arriving, and every note's answers are counted.

Faults (``--faults``, in order, ``--gap`` seconds apart):

- ``redis-restart``: Redis stopped for ``REDIS_DOWN`` seconds and started again with its append-only file.
- ``redis-wipe``: the same, but it comes back empty (no persistence): groups, entries, lease and marks are gone.
- ``postgres-restart``: PostgreSQL (the front's journal, settings, sessions) stopped ``POSTGRES_DOWN`` s.
- ``worker-kill``: one worker killed with SIGKILL; a new one is started, as a process supervisor would.
- ``worker-stop``: one worker frozen (SIGSTOP) past the lease, then let go (SIGCONT).
- ``front-kill``: the active front killed with SIGKILL; the standby takes over and a new standby starts.

A process that exits by itself is counted (``process_exits``) and started again, as a Procfile platform would.
Targets: 0 lost, 0 duplicated, no process exit for outages shorter than the lease.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .servers import Missing, OwnPostgres, OwnRedis, free_port, wait_until

FAULTS = ("redis-restart", "redis-wipe", "postgres-restart", "worker-kill", "worker-stop", "front-kill")
TEXT = "Every note gets exactly one answer, whatever fails meanwhile."
REDIS_DOWN = 2.0
POSTGRES_DOWN = 8.0
USERS = (701, 702, 703, 704)
ACTIVE = re.compile(r'"message": "front \S+ is active"')  # not a standby's "standby: front X is active"


@dataclass
class ClusterOptions:
    workers: int = 3
    faults: tuple[str, ...] = FAULTS
    gap: float = 6.0  # seconds between faults (notes keep arriving throughout)
    notes_per_second: float = 2.0
    lease_seconds: float = 5.0
    provider_delay: float = 0.3  # seconds the loopback provider takes per request
    seed: int = 0
    settle_seconds: float = 90.0  # after the last fault, how long every note may take to be answered


@dataclass
class Proc:
    name: str
    role: str
    config: Path
    log: Path
    popen: subprocess.Popen
    port: int
    expected_exit: bool = False


@dataclass
class Report:
    posted: int = 0
    answered: int = 0
    lost: int = 0
    duplicated: int = 0
    process_exits: list[str] = field(default_factory=list)
    longest_wait_s: float = 0.0
    faults: list[str] = field(default_factory=list)
    metrics: dict[str, bool] = field(default_factory=dict)
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"posted": self.posted, "answered": self.answered, "lost": self.lost, "duplicated": self.duplicated,
                "process_exits": self.process_exits, "longest_wait_s": round(self.longest_wait_s, 2),
                "faults": self.faults, "metrics_scraped": self.metrics, "skipped": self.skipped}


def run(options: ClusterOptions, log: Any = None) -> Report:
    """The simulation; a report with ``skipped`` set when Redis or PostgreSQL cannot be run here."""
    folder = Path(tempfile.mkdtemp(prefix="transhades-cluster-"))
    (folder / "redis").mkdir()
    try:
        redis = OwnRedis(folder / "redis", persist=True)
    except Missing as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return Report(skipped=str(exc))
    try:
        postgres = OwnPostgres()
    except Missing as exc:
        redis.stop()
        shutil.rmtree(folder, ignore_errors=True)
        return Report(skipped=str(exc))
    provider = _Provider(options.provider_delay)
    sim = _Simulation(options, folder, redis, postgres, provider, log or (lambda line: None))
    try:
        return sim.run()
    finally:
        sim.close()
        provider.close()
        redis.stop()
        postgres.close()
        if os.environ.get("TRANSHADES_SIM_KEEP"):
            print(f"simulate --cluster: logs kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


class _Simulation:
    def __init__(self, options: ClusterOptions, folder: Path, redis: OwnRedis, postgres: OwnPostgres,
                 provider: "_Provider", say: Any) -> None:
        from ..telegram.fake import SharedTelegram

        self.o, self.folder, self.redis, self.postgres, self.say = options, folder, redis, postgres, say
        self.provider = provider
        self.rng = random.Random(options.seed)
        self.world_path = folder / "world.sqlite3"
        self.world = SharedTelegram(self.world_path)
        self.prefix = "sim"
        self.procs: dict[str, Proc] = {}
        self.started = 0
        self.report = Report()
        self.posted_at: dict[int, float] = {}
        self.answered_at: dict[int, float] = {}
        self.voice = _voice(folder)
        self.stop_posting = threading.Event()

    # ------------------------------------------------------------------------------------------------ processes

    def config(self, name: str, credential: str) -> Path:
        home = self.folder / name
        home.mkdir(exist_ok=True)
        path = home / "config.yaml"
        path.write_text(f"""
providers:
  - {{name: sim, kind: openai, base_url: "{self.provider.url}/v1", api_key: "${{SIM_API_KEY}}", instances: 2,
     http_attempts: 1}}
cache: {{backend: redis, url: "{self.redis.url}"}}
audio: {{workers: 2, temp_dir: "{home / 'tmp'}"}}
data_dir: "{home / 'data'}"
database_url: "{self.postgres.url}"
telegram:
  bot_token: "${{TELEGRAM_BOT_TOKEN}}"
  session_dir: "{home / 'data' / 'sessions'}"
  credentials:
    - {{name: {credential}, api_id: {1000 + self.started}, api_hash: "{'a' * 32}"}}
  send_interval_seconds: 0
  edit_interval_seconds: 1
  user_jobs_per_minute: 0
  drain_seconds: 3
cluster: {{redis_url: "{self.redis.url}", lease_seconds: {self.o.lease_seconds}, prefix: {self.prefix}}}
http: {{port: 0}}
logging: {{format: json}}
""")
        return path

    def start(self, role: str) -> Proc:
        self.started += 1
        name = f"{role}-{self.started}"
        config = self.config(name, f"API-{self.started}")
        text = config.read_text().replace("http: {port: 0}", f"http: {{port: {free_port()}}}")
        config.write_text(text)
        port = int(text.split("http: {port: ")[1].split("}")[0])
        log = self.folder / f"{name}.log"
        env = {**os.environ, "TRANSHADES_FAKE_TELEGRAM": str(self.world_path), "SIM_API_KEY": "sk-" + "s" * 40,
               "TELEGRAM_BOT_TOKEN": "123456:" + "t" * 35}
        popen = subprocess.Popen([sys.executable, "-m", "transhades.cli", "run", "--role", role, "--config",
                                  str(config)], cwd=config.parent, env=env, stdout=open(log, "w"),
                                 stderr=subprocess.STDOUT)
        self.procs[name] = Proc(name, role, config, log, popen, port)
        return self.procs[name]

    def output(self, proc: Proc) -> str:
        return proc.log.read_text(errors="replace")

    def active_front(self) -> Proc | None:
        fronts = [p for p in self.procs.values() if p.role == "front" and p.popen.poll() is None]
        active = [p for p in fronts if ACTIVE.search(self.output(p))]
        return active[-1] if active else None

    def workers(self) -> list[Proc]:
        return [p for p in self.procs.values() if p.role == "worker" and p.popen.poll() is None]

    def watch(self) -> None:
        """A process that exited by itself is counted and started again, as its process supervisor would."""
        for proc in list(self.procs.values()):
            code = proc.popen.poll()
            if code is None or proc.expected_exit:
                continue
            reason = [line for line in self.output(proc).splitlines() if "error" in line.lower()][-1:]
            self.report.process_exits.append(f"{proc.name} exited {code}: {(reason or [''])[0][:300]}")
            self.say(f"{proc.name} exited {code}; starting another {proc.role}")
            proc.expected_exit = True
            self.start(proc.role)

    # ------------------------------------------------------------------------------------------------ the run

    def run(self) -> Report:
        self.start("front")
        wait_until(lambda: self.active_front() is not None, 60, "the front")
        self.start("front")  # the standby
        for _ in range(self.o.workers):
            self.start("worker")
        wait_until(lambda: all("taking jobs" in self.output(w) for w in self.workers()), 90, "every worker")
        poster = threading.Thread(target=self._post, daemon=True)
        poster.start()
        for fault in self.o.faults:
            self._wait(self.o.gap)
            self.say(f"fault: {fault}")
            getattr(self, "_" + fault.replace("-", "_"))()
            self.report.faults.append(fault)
        self._wait(self.o.gap)
        self.stop_posting.set()
        poster.join()
        deadline = time.monotonic() + self.o.settle_seconds
        while time.monotonic() < deadline and len(self._answers()) < len(self.posted_at):
            self._wait(0.5)
        self._wait(2.0)  # a late duplicate would show now
        self.report.metrics = self._scrape()
        self._count()
        return self.report

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.watch()
            self._answers()
            time.sleep(min(0.25, max(0.0, end - time.monotonic())))

    def _post(self) -> None:
        pause = 1.0 / max(0.1, self.o.notes_per_second)
        n = 0
        while not self.stop_posting.is_set():
            message = self.world.post_voice(USERS[n % len(USERS)], self.voice)
            self.posted_at[message] = time.monotonic()
            n += 1
            self.stop_posting.wait(pause)

    def _answers(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for sent in self.world.sent_rows():
            if sent.kind == "text" and sent.text == TEXT:
                counts[sent.reply_to] = counts.get(sent.reply_to, 0) + 1
                self.answered_at.setdefault(sent.reply_to, time.monotonic())
        return counts

    def _count(self) -> None:
        answers = self._answers()
        posted = set(self.posted_at)
        self.report.posted = len(posted)
        self.report.answered = len(posted & set(answers))
        self.report.lost = len(posted - set(answers))
        self.report.duplicated = sum(1 for m in posted if answers.get(m, 0) > 1)
        waits = [self.answered_at[m] - self.posted_at[m] for m in posted if m in self.answered_at]
        unanswered = [time.monotonic() - self.posted_at[m] for m in posted if m not in self.answered_at]
        self.report.longest_wait_s = max(waits + unanswered, default=0.0)

    def _scrape(self) -> dict[str, bool]:
        out = {}
        for proc in self.procs.values():
            if proc.popen.poll() is not None:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{proc.port}/metrics", timeout=5) as response:
                    out[proc.name] = response.status == 200 and b"transhades_" in response.read()
            except OSError:
                out[proc.name] = False
        return out

    # ------------------------------------------------------------------------------------------------ faults

    def _redis_restart(self) -> None:
        self.redis.restart(down_seconds=REDIS_DOWN)

    def _redis_wipe(self) -> None:
        self.redis.restart(down_seconds=REDIS_DOWN, wipe=True)

    def _postgres_restart(self) -> None:
        self.postgres.stop()
        self._wait(POSTGRES_DOWN)
        self.postgres.start()

    def _worker_kill(self) -> None:
        victim = self.rng.choice(self.workers())
        victim.expected_exit = True
        victim.popen.send_signal(signal.SIGKILL)
        self.start("worker")

    def _worker_stop(self) -> None:
        victim = self.rng.choice(self.workers())
        victim.popen.send_signal(signal.SIGSTOP)
        self._wait(self.o.lease_seconds + 2)
        victim.popen.send_signal(signal.SIGCONT)

    def _front_kill(self) -> None:
        front = self.active_front()
        if front is None:
            return
        front.expected_exit = True
        front.popen.send_signal(signal.SIGKILL)
        wait_until(lambda: self.active_front() is not None, self.o.lease_seconds + 30, "the standby taking over")
        self.start("front")

    def close(self) -> None:
        self.stop_posting.set()
        for proc in self.procs.values():
            proc.expected_exit = True
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGCONT)
                proc.popen.kill()
                proc.popen.wait()


def _voice(folder: Path) -> bytes:
    """Two seconds of a tone as an Opus voice note, made with real ffmpeg."""
    from ..audio import ffmpeg_binary

    path = folder / "voice.ogg"
    subprocess.run([ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=330:duration=2", "-c:a", "libopus", "-b:a", "16k", str(path)], check=True)
    return path.read_bytes()


class _Provider:
    """A loopback server speaking OpenAI's ``/v1/audio/transcriptions`` (verbose_json), slow on purpose."""

    def __init__(self, delay: float) -> None:
        body = json.dumps({"task": "transcribe", "language": "english", "duration": 2.0, "text": TEXT,
                           "segments": [{"id": 0, "start": 0.0, "end": 2.0, "text": TEXT}]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
