"""A 30-minute recording through providers with a 1 MB upload limit: the issue's 'done when', end to end."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import av
import pytest
from conftest import make_media
from provider_servers import ProviderServer, Received, Reply, openai_error

pytestmark = pytest.mark.slow

LIMIT = 1_000_000
KEYS = {"A_KEY": "gsk_" + "a" * 40, "B_KEY": "sk-" + "b" * 40}


def lecture(directory: Path, seconds: int) -> Path:
    """A tone with a 3 s pause every 20 s (where cuts belong), as opus."""
    from transhades.audio.prepare import ffmpeg_binary

    return make_media(ffmpeg_binary(), directory / f"lecture {seconds // 60} min.ogg", "-f", "lavfi", "-i",
                      f"sine=frequency=250:duration={seconds}", "-af",
                      "volume='if(lt(mod(t,20),17),1,0)':eval=frame", "-c:a", "libopus", "-b:a", "24k")


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Path:
    return lecture(tmp_path_factory.mktemp("long"), 1800)


@pytest.fixture(scope="module")
def shorter(tmp_path_factory) -> Path:
    return lecture(tmp_path_factory.mktemp("shorter"), 600)


class ChunkProvider:
    """An OpenAI-compatible server with a real upload limit: it decodes what it gets (PyAV) and answers with a
    segment per 5 s of that audio, so the stitched timestamps can be checked against the recording."""

    def __init__(self, limit: int = LIMIT, fail_request: int | None = None) -> None:
        self.limit = limit
        self.fail_request = fail_request
        self.sizes: list[int] = []
        self.lock = threading.Lock()
        self.server = ProviderServer(respond=self.respond)

    def respond(self, got: Received) -> Reply:
        audio = got.files["file"]
        with self.lock:
            self.sizes.append(len(audio))
            number = len(self.sizes)
        if len(audio) > self.limit:
            return Reply(413, openai_error("Request Entity Too Large", "invalid_request_error", "request_too_large"))
        if number == self.fail_request:
            return Reply(500, openai_error("Internal server error", "server_error"))
        with av.open(io.BytesIO(audio)) as container:
            duration = container.duration / 1_000_000
        segments = [{"id": k, "start": k * 5.0, "end": min(k * 5.0 + 4.0, duration), "text": f" s{k}"}
                    for k in range(int(duration // 5) + 1) if k * 5.0 < duration]
        return Reply(200, {"task": "transcribe", "language": "english", "duration": duration,
                           "text": "".join(s["text"] for s in segments), "segments": segments})


def run_with_rusage(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, int]:
    """Run the CLI in a fresh interpreter and report the peak RSS (KiB) of its largest process."""
    wrapper = ("import resource, subprocess, sys, os;"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
               "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr);"
               "print('RSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr);"
               "sys.exit(p.returncode)")
    import os

    from conftest import cli_command

    done = subprocess.run([sys.executable, "-c", wrapper, *cli_command(), *args], cwd=cwd,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=600)
    rss_line = [line for line in done.stderr.splitlines() if line.startswith("RSS ")][-1]
    return done, int(rss_line.split()[1])


def config(tmp_path: Path, a: ChunkProvider, b: ChunkProvider | None = None, claimed_mb: float = 1.0) -> Path:
    second = (f'  - {{name: B, kind: openai, base_url: "{b.server.url}/v1", api_key: "${{B_KEY}}", '
              f'max_upload_mb: {claimed_mb}, http_attempts: 1}}\n') if b else ""
    path = tmp_path / "config.yaml"
    path.write_text(f"""
providers:
  - {{name: A, kind: openai, base_url: "{a.server.url}/v1", api_key: "${{A_KEY}}", max_upload_mb: {claimed_mb},
     instances: 3, http_attempts: 1}}
{second}cache: {{backend: sqlite, path: "{tmp_path / 'cache.sqlite3'}"}}
audio: {{workers: 2, temp_dir: "{tmp_path / 'tmp'}"}}
data_dir: "{tmp_path / 'data'}"
""")
    return path


def check_covers_the_whole_recording(result: dict, seconds: float = 1800.0) -> None:
    starts = [s["start"] for s in result["segments"]]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), "in order, nothing twice"
    assert starts[0] == 0.0 and result["segments"][-1]["end"] >= seconds - 5
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert max(gaps) <= 6.5, "no stretch of the recording is missing"
    assert result["duration"] == pytest.approx(seconds, abs=1.0)


def test_thirty_minutes_through_a_1mb_limit_never_uploads_too_much_and_covers_everything(tmp_path, recording):
    a = ChunkProvider()
    try:
        done, rss_kib = run_with_rusage(["transcribe", "--format", "json", "--config", str(config(tmp_path, a)),
                                         str(recording)], tmp_path, KEYS)
    finally:
        a.server.close()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert len(a.sizes) >= 8, "the recording went out in many chunks"
    assert max(a.sizes) <= LIMIT, "nothing over the limit was ever sent"
    check_covers_the_whole_recording(result)
    assert result["provider"] == "A"
    assert rss_kib < 300 * 1024, f"peak RSS {rss_kib / 1024:.0f} MB"


def test_one_failing_chunk_fails_over_alone(tmp_path, shorter):
    a, b = ChunkProvider(fail_request=2), ChunkProvider()
    try:
        done, _ = run_with_rusage(["transcribe", "--format", "json", "--config",
                                   str(config(tmp_path, a, b, claimed_mb=0.3)), str(shorter)], tmp_path, KEYS)
    finally:
        a.server.close()
        b.server.close()
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    check_covers_the_whole_recording(result, 600.0)
    assert set(result["provider"].split("+")) == {"A", "B"}
    assert len(b.sizes) >= 1 and len(b.sizes) < len(a.sizes), "only what failed went to B (and its fan-out share)"


def test_provider_answering_413_gets_the_chunk_again_cut_smaller(tmp_path, shorter):
    a = ChunkProvider(limit=300_000)  # really takes 0.3 MB, but the config claims 1 MB
    try:
        done, _ = run_with_rusage(["transcribe", "--format", "json",
                                   "--config", str(config(tmp_path, a, claimed_mb=1.0)), str(shorter)],
                                  tmp_path, KEYS)
    finally:
        a.server.close()
    assert done.returncode == 0, done.stderr
    assert any(size > 300_000 for size in a.sizes), "the first chunks were too big and got 413"
    check_covers_the_whole_recording(json.loads(done.stdout), 600.0)
