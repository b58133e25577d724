"""``transhades run`` processes against one shared fake Telegram and a loopback provider, for the cluster's fault
simulation and the CPU benchmark: what they start, watch, count and kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from transhades.devtools.servers import OwnPostgres, OwnRedis, free_port

TEXT = "Every note gets exactly one answer, whatever fails meanwhile."


@dataclass
class Proc:
    name: str
    role: str
    config: Path
    log: Path
    popen: subprocess.Popen
    port: int
    expected_exit: bool = False


class Lab:
    """``transhades run`` processes (``all``, ``front``, ``worker``) against one shared fake Telegram, a loopback
    provider and, for a cluster, a Redis (and a PostgreSQL when given): what the simulation and the CPU benchmark
    start, watch and kill."""

    def __init__(self, folder: Path, provider: Provider, redis: OwnRedis | None = None,
                 postgres: OwnPostgres | None = None, lease_seconds: float = 5.0) -> None:
        from transhades.telegram.fake import SharedTelegram

        self.folder, self.provider, self.redis, self.postgres = folder, provider, redis, postgres
        self.lease_seconds = lease_seconds
        self.world_path = folder / "world.sqlite3"
        self.world = SharedTelegram(self.world_path)
        self.procs: dict[str, Proc] = {}
        self.started = 0

    def config(self, name: str, credential: str, port: int) -> Path:
        home = self.folder / name
        home.mkdir(exist_ok=True)
        cache = f'{{backend: redis, url: "{self.redis.url}"}}' if self.redis else \
            f'{{backend: sqlite, path: "{home / "cache.sqlite3"}"}}'
        cluster = (f'cluster: {{redis_url: "{self.redis.url}", lease_seconds: {self.lease_seconds}, prefix: sim}}'
                   if self.redis else "")
        database = f'database_url: "{self.postgres.url}"' if self.postgres else ""
        path = home / "config.yaml"
        path.write_text(f"""
providers:
  - {{name: sim, kind: openai, base_url: "{self.provider.url}/v1", api_key: "${{SIM_API_KEY}}", instances: 2,
     http_attempts: 1}}
cache: {cache}
audio: {{workers: 2, temp_dir: "{home / 'tmp'}"}}
data_dir: "{home / 'data'}"
{database}
telegram:
  bot_token: "${{TELEGRAM_BOT_TOKEN}}"
  session_dir: "{home / 'data' / 'sessions'}"
  credentials:
    - {{name: {credential}, api_id: {1000 + self.started}, api_hash: "{'a' * 32}"}}
  send_interval_seconds: 0
  edit_interval_seconds: 1
  user_jobs_per_minute: 0
  drain_seconds: 3
{cluster}
http: {{port: {port}}}
logging: {{format: json}}
""")
        return path

    def start(self, role: str) -> Proc:
        self.started += 1
        name = f"{role}-{self.started}"
        port = free_port()
        config = self.config(name, f"API-{self.started}", port)
        log = self.folder / f"{name}.log"
        env = {**os.environ, "TRANSHADES_FAKE_TELEGRAM": str(self.world_path), "SIM_API_KEY": "sk-" + "s" * 40,
               "TELEGRAM_BOT_TOKEN": "123456:" + "t" * 35}
        popen = subprocess.Popen([sys.executable, "-m", "transhades.app.cli", "run", "--role", role, "--config",
                                  str(config)], cwd=config.parent, env=env, stdout=open(log, "w"),
                                 stderr=subprocess.STDOUT)
        self.procs[name] = Proc(name, role, config, log, popen, port)
        return self.procs[name]

    def output(self, proc: Proc) -> str:
        return proc.log.read_text(errors="replace")

    def answers(self) -> dict[int, int]:
        """How many transcripts each voice message got."""
        counts: dict[int, int] = {}
        for sent in self.world.sent_rows():
            if sent.kind == "text" and sent.text == TEXT and sent.reply_to is not None:
                counts[sent.reply_to] = counts.get(sent.reply_to, 0) + 1
        return counts

    def close(self) -> None:
        for proc in self.procs.values():
            proc.expected_exit = True
            if proc.popen.poll() is None:
                proc.popen.send_signal(signal.SIGCONT)
                proc.popen.kill()
                proc.popen.wait()


def voice_note(path: Path, seconds: float, frequency: int = 330) -> bytes:
    """A tone as an Opus voice note, made with real ffmpeg (distinct frequencies: distinct notes, no cache hits)."""
    from transhades.audio.prepare import ffmpeg_binary

    subprocess.run([ffmpeg_binary(), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"sine=frequency={frequency}:duration={seconds}", "-c:a", "libopus", "-b:a", "16k", str(path)],
                   check=True)
    return path.read_bytes()


class Provider:
    """A loopback server speaking OpenAI's ``/v1/audio/transcriptions`` (verbose_json), slow on purpose."""

    def __init__(self, delay: float, text: str = TEXT) -> None:
        body = json.dumps({"task": "transcribe", "language": "english", "duration": 2.0, "text": text,
                           "segments": [{"id": 0, "start": 0.0, "end": 2.0, "text": text}]}).encode()

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
