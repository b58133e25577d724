"""What a user of the original bot, or a new user, meets first, end to end through the CLI: a self-hosted server
without a key, the cache and fixed languages, the usage line. Real loopback servers, the real actor tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES, cli_command, run_cli
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
    assert detected["cached"] is False, "a transcript forced into a language never answers a request that detects"
    assert len(multilingual_server.received) == 3
    assert transcribe(config)["cached"] is True, "a detected one does"


@pytest.mark.parametrize("argv,names", [([], "transhades"), (["transcribe"], "transhades transcribe"),
                                        (["transcribe", "--format", "doc", "x.ogg"], "transhades transcribe")])
def test_a_usage_error_names_the_command_once(argv, names):
    done = run_cli(*argv)
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and line.endswith(f"(see {names} --help)")
    assert "transhades transhades" not in line


# ------------------------------------------------------------------------------------------ a seed user's .env

SEED_ENV = {"TELEGRAM_BOT_TOKEN": "123456:" + "x" * 35,
            **{f"TELEGRAM_API_ID{suffix}": str(1000 + n) for n, suffix in enumerate(["", "_2", "_3", "_4", "_5"])},
            **{f"TELEGRAM_API_HASH{suffix}": f"{n:x}" * 32 for n, suffix in enumerate(["", "_2", "_3", "_4", "_5"])}}


def test_every_credential_of_a_seed_env_becomes_a_credential_actor(tmp_path):
    from dataclasses import replace

    from conftest import ROOT, wait_for
    from test_tree import Script

    from transhades import config as config_lib
    from transhades.app.tree import start_tree
    from transhades.telegram.fake import FakeGateway, FakeTelegram

    cfg = config_lib.load(ROOT / "config.yaml", env=SEED_ENV)
    assert [(c.name, c.api_id) for c in cfg.telegram.credentials] == [
        ("API-1", 1000), ("API-2", 1001), ("API-3", 1002), ("API-4", 1003), ("API-5", 1004)]
    assert not cfg.telegram.skipped and not cfg.telegram.unused
    cfg = replace(cfg, data_dir=str(tmp_path / "data"), http=replace(cfg.http, port=0),
                  cache=replace(cfg.cache, path=str(tmp_path / "cache.sqlite3")),
                  audio=replace(cfg.audio, temp_dir=str(tmp_path / "tmp")),
                  telegram=replace(cfg.telegram, session_dir=str(tmp_path / "sessions")))
    world = FakeTelegram()
    tree = start_tree(cfg, provider_factory=Script().factory,
                      gateway_factory=lambda c, r: FakeGateway(world, c.name, tmp_path / "sessions", r))
    try:
        running = wait_for(lambda: {s["name"] for s in tree.status()
                                    if s["name"].startswith("credential:") and s["state"] == "running"} or None)
        wait_for(lambda: len({s["name"] for s in tree.status()
                              if s["name"].startswith("credential:") and s["state"] == "running"}) == 5,
                 what=f"five credential actors; running: {running}")
    finally:
        tree.stop()


def test_check_config_warns_about_a_seed_credential_that_no_entry_reads(tmp_path):
    from conftest import ROOT

    env = {**SEED_ENV, "TELEGRAM_API_ID_6": "2006", "TELEGRAM_API_HASH_6": "f" * 32}
    done = run_cli("check-config", "--config", str(ROOT / "config.yaml"), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for n in range(1, 6):
        assert f"credential:API-{n}   x1" in done.stdout
    (warning,) = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert warning.startswith("warning: TELEGRAM_API_ID_6 is set but no telegram.credentials entry reads it; add "
                              '{name: API-6, api_id: "${TELEGRAM_API_ID_6}", api_hash: "${TELEGRAM_API_HASH_6}"}')
    assert "f" * 32 not in done.stdout + done.stderr


def test_output_piped_into_a_reader_that_leaves_early_ends_without_a_traceback():
    import subprocess

    from conftest import ROOT

    command = cli_command()
    process = subprocess.Popen([*command, "check-config", "--config", str(ROOT / "config.yaml")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()  # like `| head -0`: the reader is gone before anything is written
    err = process.stderr.read()
    assert process.wait(30) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err
