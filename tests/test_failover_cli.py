"""End to end through the CLI: real loopback servers as providers, the real actor tree, real ffmpeg."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES, run_cli
from provider_servers import GROQ_429_HEADERS, ProviderServer, Reply, deepgram_result, groq_verbose, openai_error


@pytest.fixture
def servers():
    made = []

    def start(*replies: Reply) -> ProviderServer:
        made.append(ProviderServer(list(replies)))
        return made[-1]

    yield start
    for server in made:
        server.close()


def write_config(tmp_path: Path, a_url: str, b_url: str, b_kind: str = "deepgram") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"""
providers:
  - {{name: A, kind: openai, base_url: "{a_url}", api_key: "${{A_KEY}}", model: whisper-large-v3, http_attempts: 2,
     retry_min_seconds: 0.01, retry_max_seconds: 0.02}}
  - {{name: B, kind: {b_kind}, base_url: "{b_url}", api_key: "${{B_KEY}}", model: nova-3, http_attempts: 2,
     retry_min_seconds: 0.01, retry_max_seconds: 0.02}}
cache: {{backend: sqlite, path: "{tmp_path / 'cache.sqlite3'}"}}
audio: {{workers: 1, temp_dir: "{tmp_path / 'tmp'}"}}
data_dir: "{tmp_path / 'data'}"
""")
    return path


KEYS = {"A_KEY": "gsk_" + "a" * 40, "B_KEY": "dg-" + "b" * 30}


def test_rate_limited_provider_a_fails_over_and_json_shows_provider_b(tmp_path, servers):
    a = servers(Reply(429, openai_error("Rate limit reached", "requests", "rate_limit_exceeded"), GROQ_429_HEADERS))
    b = servers(Reply(200, deepgram_result("Hello and welcome to transhades.", "en", 9.3)))
    config = write_config(tmp_path, a.url + "/openai/v1", b.url + "/v1")
    done = run_cli("transcribe", "--format", "json", "--config", str(config), str(SAMPLES / "hello-en.ogg"),
                   cwd=tmp_path, env=KEYS)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["provider"] == "B" and result["text"] == "Hello and welcome to transhades."
    assert result["language"] == "en" and result["cached"] is False
    assert len(a.received) == 1, "a rate-limited provider is not asked again for the same job"
    assert b.received[0].headers["Content-Type"] == "audio/ogg" and b.received[0].body[:4] == b"OggS"
    for secret in KEYS.values():
        assert secret not in done.stderr + done.stdout


@pytest.mark.parametrize("failure", [
    Reply(500, openai_error("Internal server error", "server_error")),
    Reply(503, openai_error("Service Unavailable", "server_error"), {"Retry-After": "30"}),
    Reply(401, openai_error("Invalid API Key", "invalid_request_error", "invalid_api_key")),
    Reply(200, b"<html>not json</html>", {"Content-Type": "text/html"}),
])
def test_every_failure_class_of_a_fails_over_to_b(tmp_path, servers, failure):
    a = servers(failure)
    b = servers(Reply(200, groq_verbose("From B.")))
    config = write_config(tmp_path, a.url + "/v1", b.url + "/v1", b_kind="openai")
    done = run_cli("transcribe", "--format", "json", "--config", str(config), str(SAMPLES / "halo-id.ogg"),
                   cwd=tmp_path, env=KEYS)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["provider"] == "B"


def test_user_choice_goes_first_and_bad_audio_answer_is_not_failed_over(tmp_path, servers):
    a = servers(Reply(200, groq_verbose("From A.")))
    b = servers(Reply(400, openai_error("could not process file - is it a valid media file?")))
    config = write_config(tmp_path, a.url + "/v1", b.url + "/v1", b_kind="openai")
    done = run_cli("transcribe", "--provider", "B", "--config", str(config), str(SAMPLES / "hello-en.ogg"),
                   cwd=tmp_path, env=KEYS)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"error: {SAMPLES / 'hello-en.ogg'}: B cannot use this audio "
                                   f"(could not process file - is it a valid media file?)")
    assert len(b.received) == 1 and not a.received


def test_when_every_provider_fails_the_user_gets_one_clear_error(tmp_path, servers):
    a = servers(Reply(500, openai_error("Internal server error", "server_error")))
    b = servers(Reply(502, "<html>Bad Gateway</html>", {"Content-Type": "text/html"}))
    config = write_config(tmp_path, a.url + "/v1", b.url + "/v1", b_kind="openai")
    done = run_cli("transcribe", "--config", str(config), str(SAMPLES / "hello-en.ogg"), cwd=tmp_path, env=KEYS)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {SAMPLES / 'hello-en.ogg'}: ")
    assert "502" in lines[0] or "500" in lines[0]
