"""What a user of the original bot, or a new user, meets first, end to end through the CLI: a self-hosted server
without a key, the cache and fixed languages, the usage line. Real loopback servers, the real actor tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLES, run_cli
from provider_servers import ProviderServer, Received, Reply, groq_verbose

SPOKEN = {"en": ("Good morning, thank you.", "English"), "id": ("Selamat pagi, terima kasih.", "Indonesian")}


@pytest.fixture
def multilingual_server():
    """An OpenAI-compatible server without auth that answers in the language it is asked for (English when
    detecting), as faster-whisper-server, LocalAI and vLLM do by default."""

    def respond(got: Received) -> Reply:
        language = (got.fields.get("language") or ["en"])[0]
        text, name = SPOKEN[language]
        return Reply(200, groq_verbose(text, name))

    server = ProviderServer(respond=respond)
    yield server
    server.close()


def write_config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"""
providers:
  - {{name: selfhosted, kind: openai, base_url: "{url}/v1", model: Systran/faster-whisper-small}}
cache: {{backend: sqlite, path: "{tmp_path / 'cache.sqlite3'}"}}
audio: {{workers: 1, temp_dir: "{tmp_path / 'tmp'}"}}
data_dir: "{tmp_path / 'data'}"
""")
    return path


def transcribe(config: Path, *args: str) -> dict:
    done = run_cli("transcribe", "--format", "json", "--config", str(config), *args, str(SAMPLES / "halo-id.ogg"),
                   cwd=config.parent)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_self_hosted_server_without_a_key_transcribes_and_gets_no_authorization_header(tmp_path,
                                                                                         multilingual_server):
    config = write_config(tmp_path, multilingual_server.url)
    check = run_cli("check-config", "--config", str(config))
    assert check.returncode == 0 and "provider:selfhosted-1 (openai" in check.stdout, check.stdout + check.stderr
    result = transcribe(config)
    assert result["provider"] == "selfhosted" and result["text"] == "Good morning, thank you."
    (got,) = multilingual_server.received
    assert "Authorization" not in got.headers


def test_the_cache_never_answers_a_fixed_language_with_a_transcript_in_another(tmp_path, multilingual_server):
    config = write_config(tmp_path, multilingual_server.url)
    english = transcribe(config, "--language", "en")
    assert (english["language"], english["cached"]) == ("en", False)
    indonesian = transcribe(config, "--language", "id")
    assert indonesian["cached"] is False, "the English transcript answered a request for Indonesian"
    assert (indonesian["language"], indonesian["text"]) == ("id", "Selamat pagi, terima kasih.")
    again = transcribe(config, "--language", "en")
    assert again["cached"] is True and again["language"] == "en" and again["text"] == "Good morning, thank you."
    detected = transcribe(config)
    assert detected["cached"] is True, "a detecting request may take any cached transcript"
    assert len(multilingual_server.received) == 2


@pytest.mark.parametrize("argv,names", [([], "transhades"), (["transcribe"], "transhades transcribe"),
                                        (["transcribe", "--format", "doc", "x.ogg"], "transhades transcribe")])
def test_a_usage_error_names_the_command_once(argv, names):
    done = run_cli(*argv)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and line.endswith(f"(see {names} --help)")
    assert "transhades transhades" not in line
