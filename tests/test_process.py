"""A real ``transhades run`` process, fed through the shared fake Telegram (a SQLite file both processes open)
and transcribing through a loopback OpenAI-compatible server: killed with SIGKILL mid-load, stopped with
SIGTERM under load, and asked twice to stop. Every accepted job is answered exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import cli_command, make_media, wait_for
from provider_servers import ProviderServer, Reply, groq_verbose

from transhades.telegram.fake import SharedTelegram

pytestmark = pytest.mark.slow  # whole service processes, killed and restarted: seconds each

TEXT = "Every job gets exactly one answer."
USER = 501


@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> list[bytes]:
    """Distinct recordings (the same bytes would be answered from the cache, doing no work)."""
    from transhades.audio.prepare import ffmpeg_binary

    folder = tmp_path_factory.mktemp("voices")
    return [make_media(ffmpeg_binary(), folder / f"v{n}.ogg", "-f", "lavfi", "-i",
                       f"sine=frequency={200 + 7 * n}:duration=2", "-c:a", "libopus", "-b:a", "16k").read_bytes()
            for n in range(30)]


class Service:
    def __init__(self, tmp_path: Path, delay: float, drain_seconds: float = 15) -> None:
        self.tmp = tmp_path
        self.server = ProviderServer([Reply(200, groq_verbose(TEXT, "English", 2.0), delay=delay)])
        self.config = tmp_path / "config.yaml"
        self.config.write_text(f"""
providers:
  - {{name: groq, kind: openai, base_url: "{self.server.url}/openai/v1", api_key: "${{GROQ_API_KEY}}",
     instances: 2, http_attempts: 1}}
cache: {{backend: sqlite, path: "{tmp_path / 'cache.sqlite3'}"}}
audio: {{workers: 2, temp_dir: "{tmp_path / 'tmp'}"}}
data_dir: "{tmp_path / 'data'}"
telegram:
  bot_token: "${{TELEGRAM_BOT_TOKEN}}"
  session_dir: "{tmp_path / 'data' / 'sessions'}"
  credentials:
    - {{name: API-1, api_id: 1001, api_hash: "{'a' * 32}"}}
    - {{name: API-2, api_id: 1002, api_hash: "{'b' * 32}"}}
  send_interval_seconds: 0
  edit_interval_seconds: 0.5
  user_jobs_per_minute: 0
  drain_seconds: {drain_seconds}
http: {{port: 0}}
logging: {{format: json}}
""")
        self.world_path = tmp_path / "world.sqlite3"
        self.world = SharedTelegram(self.world_path)
        self.process: subprocess.Popen | None = None
        self.logs: list[Path] = []

    def start(self) -> subprocess.Popen:
        command = cli_command()
        log = self.tmp / f"run-{len(self.logs)}.log"
        self.logs.append(log)
        env = {**os.environ, "TRANSHADES_FAKE_TELEGRAM": str(self.world_path), "GROQ_API_KEY": "gsk_" + "k" * 40,
               "TELEGRAM_BOT_TOKEN": "123456:" + "t" * 35}
        handle = open(log, "w")
        self.process = subprocess.Popen([*command, "run", "--config", str(self.config)], cwd=self.tmp, env=env,
                                        stdout=handle, stderr=subprocess.STDOUT)
        return self.process

    def answers(self) -> Counter:
        """Transcripts sent, per voice message."""
        return Counter(s.reply_to for s in self.world.sent_rows() if s.kind == "text" and s.text == TEXT)

    def output(self) -> str:
        return "\n".join(p.read_text() for p in self.logs)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.server.close()


@pytest.fixture
def service(tmp_path):
    made = []

    def start(**kw) -> Service:
        made.append(Service(tmp_path, **kw))
        return made[-1]

    yield start
    for s in made:
        s.close()


def test_kill_9_mid_load_then_restart_answers_every_accepted_job_exactly_once(service, voices):
    s = service(delay=0.4)
    s.start()
    posted = [s.world.post_voice(USER, data) for data in voices[:24]]
    wait_for(lambda: len(s.answers()) >= 5, timeout=60, what=f"the first answers; log: {s.output()[-2000:]}")
    s.process.send_signal(signal.SIGKILL)
    assert s.process.wait(10) == -signal.SIGKILL
    before = s.answers()
    assert len(before) < len(posted), "the kill came mid-load"

    s.start()
    wait_for(lambda: set(s.answers()) >= set(posted), timeout=120,
             what=f"every job answered after the restart; log: {s.output()[-3000:]}")
    s.process.send_signal(signal.SIGTERM)
    assert s.process.wait(25) == 0  # once it has exited, nothing more can be sent twice
    answers = s.answers()
    assert {m: answers[m] for m in posted if answers[m] != 1} == {}, "exactly one transcript per job"
    assert s.world.untaken() == 0
    assert "gsk_" not in s.output() and "t" * 35 not in s.output(), "no secret in the logs"


def test_sigterm_under_load_exits_0_within_25_s_and_parked_jobs_finish_after_the_restart(service, voices):
    s = service(delay=1.5, drain_seconds=3)
    s.start()
    posted = [s.world.post_voice(USER, data) for data in voices[:16]]
    wait_for(lambda: len(s.answers()) >= 2, timeout=60, what=f"the first answers; log: {s.output()[-2000:]}")
    began = time.monotonic()
    s.process.send_signal(signal.SIGTERM)
    assert s.process.wait(25) == 0
    took = time.monotonic() - began
    assert took < 25
    stopped_with = s.answers()
    assert len(stopped_with) < len(posted), "some jobs were parked, not all finished"
    late = [s.world.post_voice(USER, data) for data in voices[16:18]]  # sent while the bot is down

    s.start()
    wait_for(lambda: set(s.answers()) >= set(posted + late), timeout=120,
             what=f"every job answered after the restart; log: {s.output()[-3000:]}")
    s.process.send_signal(signal.SIGTERM)
    assert s.process.wait(25) == 0  # once it has exited, nothing more can be sent twice
    assert all(count == 1 for count in s.answers().values())
    log = s.output()
    assert '"message": "stopping: no new jobs' in log and "parked in the journal" in log
    assert '"actor": "bot"' in log, "JSON lines name the actor"


def test_a_second_signal_exits_at_once_and_the_journal_still_finishes_every_job(service, voices):
    s = service(delay=3.0)
    s.start()
    posted = [s.world.post_voice(USER, data) for data in voices[:6]]
    wait_for(lambda: s.world.untaken() == 0 and len(s.world.sent_rows()) >= 1, timeout=60,
             what=f"the jobs taken; log: {s.output()[-2000:]}")
    s.process.send_signal(signal.SIGTERM)
    wait_for(lambda: "stopping: no new jobs" in s.output(), what="the first signal to be heard")
    began = time.monotonic()
    s.process.send_signal(signal.SIGTERM)
    assert s.process.wait(5) == 128 + signal.SIGTERM
    assert time.monotonic() - began < 3
    assert "second signal: exiting at once" in s.output()

    s.server.replies = [Reply(200, groq_verbose(TEXT, "English", 2.0))]
    s.start()
    wait_for(lambda: set(s.answers()) >= set(posted), timeout=120, what=f"every job; log: {s.output()[-3000:]}")
    s.process.send_signal(signal.SIGTERM)
    assert s.process.wait(25) == 0  # once it has exited, nothing more can be sent twice
    assert all(count == 1 for count in s.answers().values())


@pytest.mark.parametrize("after", [0.3, 0.8])
def test_sigterm_in_the_first_second_of_run_is_a_clean_exit_0(service, after):
    s = service(delay=0.1)
    s.start()
    time.sleep(after)  # still importing, reading the config or starting the tree
    s.process.send_signal(signal.SIGTERM)
    assert s.process.wait(25) == 0, s.output()[-2000:]
    assert "Traceback" not in s.output()
