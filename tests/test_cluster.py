"""One bot over several processes: a front (and a standby), three workers, the real Redis between them, the
shared fake Telegram and a loopback provider. Processes are killed with SIGKILL mid-load; every voice note is
still answered exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from conftest import cli_command, make_media, wait_for
from provider_servers import ProviderServer, Reply, groq_verbose

from transhades.telegram.fake import SharedTelegram

pytestmark = [pytest.mark.slow, pytest.mark.redis]

TEXT = "Every job gets exactly one answer, whichever process runs it."
USER = 601
LEASE = 3


class Cluster:
    def __init__(self, tmp: Path, redis_url: str, delay: float = 0.3) -> None:
        self.tmp = tmp
        self.redis_url = redis_url
        self.prefix = f"test-{uuid.uuid4().hex[:8]}"
        self.server = ProviderServer([Reply(200, groq_verbose(TEXT, "English", 2.0), delay=delay)])
        self.world_path = tmp / "world.sqlite3"
        self.world = SharedTelegram(self.world_path)
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def config(self, name: str, credentials: list[str], drain_seconds: float = 5) -> Path:
        home = self.tmp / name
        home.mkdir(exist_ok=True)
        lines = "\n".join(f'    - {{name: {c}, api_id: {1000 + n}, api_hash: "{"a" * 32}"}}'
                          for n, c in enumerate(credentials, 1))
        path = home / "config.yaml"
        path.write_text(f"""
providers:
  - {{name: groq, kind: openai, base_url: "{self.server.url}/openai/v1", api_key: "${{GROQ_API_KEY}}",
     instances: 2, http_attempts: 1}}
cache: {{backend: redis, url: "{self.redis_url}"}}
audio: {{workers: 2, temp_dir: "{home / 'tmp'}"}}
data_dir: "{home / 'data'}"
telegram:
  bot_token: "${{TELEGRAM_BOT_TOKEN}}"
  session_dir: "{home / 'data' / 'sessions'}"
  credentials:
{lines}
  send_interval_seconds: 0
  edit_interval_seconds: 0.5
  user_jobs_per_minute: 0
  drain_seconds: {drain_seconds}
cluster: {{redis_url: "{self.redis_url}", lease_seconds: {LEASE}, prefix: {self.prefix}}}
http: {{port: 0}}
logging: {{format: json}}
""")
        return path

    def start(self, name: str, role: str, config: Path) -> subprocess.Popen:
        command = cli_command()
        log = self.tmp / f"{name}-{len([n for n in self.logs if n.startswith(name)])}.log"
        self.logs[f"{name}:{log.name}"] = log
        env = {**os.environ, "TRANSHADES_FAKE_TELEGRAM": str(self.world_path), "GROQ_API_KEY": "gsk_" + "k" * 40,
               "TELEGRAM_BOT_TOKEN": "123456:" + "t" * 35}
        self.processes[name] = subprocess.Popen([*command, "run", "--role", role, "--config", str(config)],
                                                cwd=config.parent, env=env, stdout=open(log, "w"),
                                                stderr=subprocess.STDOUT)
        return self.processes[name]

    def output(self, prefix: str = "") -> str:
        return "\n".join(p.read_text() for n, p in self.logs.items() if n.startswith(prefix))

    def answers(self) -> Counter:
        return Counter(s.reply_to for s in self.world.sent_rows() if s.kind == "text" and s.text == TEXT)

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
        self.server.close()


@pytest.fixture
def cluster(tmp_path, redis_url, redis_client):
    made: list[Cluster] = []

    def make(**kw) -> Cluster:
        made.append(Cluster(tmp_path, redis_url, **kw))
        return made[-1]

    yield make
    for c in made:
        c.close()


@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> list[bytes]:
    from transhades.audio.prepare import ffmpeg_binary

    folder = tmp_path_factory.mktemp("voices")
    return [make_media(ffmpeg_binary(), folder / f"v{n}.ogg", "-f", "lavfi", "-i",
                       f"sine=frequency={300 + 5 * n}:duration=2", "-c:a", "libopus", "-b:a", "16k").read_bytes()
            for n in range(60)]


def holds_a_job(c: Cluster, redis_client, worker: str) -> bool:
    """The worker's consumer has an entry out right now (the front lets a user have only a few jobs out at once,
    so a worker is often between jobs)."""
    import re

    found = re.search(r"worker (\S+) is taking jobs", c.output(worker))
    return bool(found) and bool(redis_client.xpending_range(f"{c.prefix}:jobs", "workers", "-", "+", 1,
                                                            consumername=found.group(1)))


def test_a_killed_worker_and_a_killed_front_cost_no_note_and_answer_none_twice(cluster, voices, redis_client):
    c = cluster()
    front = c.config("front", ["API-F1"])
    c.start("front-a", "front", front)
    wait_for(lambda: "is active" in c.output("front-a"), timeout=30, what=f"the front; {c.output()[-2000:]}")
    c.start("front-b", "front", front)  # the standby, on the same journal
    for n in range(1, 4):
        c.start(f"worker-{n}", "worker", c.config(f"worker-{n}", [f"API-W{n}"]))
    wait_for(lambda: "standby" in c.output("front-b"), timeout=30, what="the standby")
    wait_for(lambda: all("taking jobs" in c.output(f"worker-{n}") for n in range(1, 4)), timeout=60,
             what=f"every worker; {c.output()[-2000:]}")  # one still starting holds nothing to take over

    posted = [c.world.post_voice(USER, data) for data in voices]
    wait_for(lambda: len(c.answers()) >= 10, timeout=60, what=f"the first answers; {c.output()[-3000:]}")
    wait_for(lambda: holds_a_job(c, redis_client, "worker-1"), timeout=30, what="worker-1 to hold a job")
    c.processes["worker-1"].send_signal(signal.SIGKILL)  # with a job in hand: there is something to take over
    killed = time.monotonic()
    took_over = wait_for(lambda: "took over" in c.output("worker-2") + c.output("worker-3"), timeout=LEASE + 10,
                         what=f"a live worker to take over the dead one's jobs; {c.output('worker')[-3000:]}")
    assert took_over and time.monotonic() - killed < LEASE + 3, "taken over within the lease (and one poll)"

    wait_for(lambda: len(c.answers()) >= 30, timeout=60, what=f"more answers; {c.output()[-3000:]}")
    c.processes["front-a"].send_signal(signal.SIGKILL)
    wait_for(lambda: "is active" in c.output("front-b"), timeout=LEASE + 10, what="the standby to take over")
    wait_for(lambda: set(c.answers()) >= set(posted), timeout=120,
             what=f"every note answered; missing {set(posted) - set(c.answers())}; {c.output('front-b')[-3000:]}")

    for name in ("front-b", "worker-2", "worker-3"):
        c.processes[name].send_signal(signal.SIGTERM)
    for name in ("front-b", "worker-2", "worker-3"):
        assert c.processes[name].wait(25) == 0, c.output(name)[-2000:]
    answers = c.answers()  # every process has exited: nothing more can be sent
    assert {m: answers[m] for m in posted if answers[m] != 1} == {}, "exactly one transcript per note"
    assert c.world.untaken() == 0


def test_a_worker_told_to_stop_hands_back_what_it_cannot_finish_and_exits_0(cluster, voices):
    c = cluster(delay=3.0)
    c.start("front", "front", c.config("front", ["API-F1"]))
    c.start("leaving", "worker", c.config("leaving", ["API-W1"], drain_seconds=1))
    wait_for(lambda: "is active" in c.output("front") and "taking jobs" in c.output("leaving"), timeout=30,
             what=f"the front and the worker; {c.output()[-2000:]}")
    posted = [c.world.post_voice(USER, data) for data in voices[:4]]
    wait_for(lambda: c.output("leaving").count("taken from the stream") >= 2, timeout=30, what="jobs taken")
    began = time.monotonic()
    c.processes["leaving"].send_signal(signal.SIGTERM)
    assert c.processes["leaving"].wait(25) == 0, c.output("leaving")[-2000:]
    assert time.monotonic() - began < 25
    assert "handed back to the stream" in c.output("leaving")
    c.start("staying", "worker", c.config("staying", ["API-W2"]))
    wait_for(lambda: set(c.answers()) >= set(posted), timeout=60, what=f"every note; {c.output()[-3000:]}")
    for name in ("front", "staying"):
        c.processes[name].send_signal(signal.SIGTERM)
        assert c.processes[name].wait(25) == 0
    assert all(count == 1 for count in c.answers().values())
