"""No secret reaches a reader: configured secrets and key-shaped strings are redacted from error texts, bot
messages and log lines alike (``transhades.redaction``)."""

from __future__ import annotations

import pytest
from conftest import SAMPLES, run_cli
from provider_servers import ProviderServer, Received, Reply, openai_error

from transhades import redaction
from transhades.errors import BadInput, ConfigError
from transhades.telegram.outbox import Outbox, Outgoing


@pytest.fixture(autouse=True)
def _fresh_secrets():
    redaction.forget_all()
    yield
    redaction.forget_all()


@pytest.mark.parametrize("secret", [
    "gsk_" + "A1" * 20, "sk-proj-" + "b2" * 15, "1234567890:" + "C" * 35, "0123456789abcdef" * 2, "f00d" * 10,
])
def test_key_shaped_strings_are_redacted_without_being_configured(secret):
    assert secret not in redaction.redact(f"the server said: invalid key {secret}.")


def test_bearer_and_token_headers_are_redacted_whatever_the_key_looks_like():
    text = redaction.redact("request had Authorization: Bearer my-own-key-123 and Token dg.key.456789")
    assert "my-own-key-123" not in text and "dg.key.456789" not in text and text.count("[redacted]") == 2


def test_configured_secrets_are_redacted_from_error_values_at_the_source():
    redaction.remember(["plain-words-secret"])
    assert str(BadInput("echo: plain-words-secret")) == "echo: [redacted]"
    assert ConfigError(["x: got 'plain-words-secret'"]).problems == ["x: got '[redacted]'"]


def test_the_outbox_never_rewrites_what_users_said():
    redaction.remember(["hunter2-secret"])
    outbox = Outbox(0, 0, 30)
    said = "Beli token listriknya sekarang; kode 0123456789abcdef0123456789abcdef; hunter2-secret; chat"
    outbox.put(Outgoing("text", 1, said))
    (item,), _ = outbox.due(10.0)
    assert item.text == said


def test_everyday_words_after_token_or_bearer_are_not_keys():
    for words in ("Beli token listriknya sekarang", "the bearer bonds were sold", "Token ringnya hilang"):
        assert redaction.redact(words) == words


def test_a_provider_body_that_repeats_the_key_never_reaches_the_cli_user(tmp_path):
    key = "selfhosted-key-" + "q" * 12  # not shaped like any known key: only the configuration knows it

    def respond(got: Received) -> Reply:
        echoed = got.headers.get("Authorization", "")
        return Reply(400, openai_error(f"Invalid file format; request had {echoed} (key {key})"))

    server = ProviderServer(respond=respond)
    try:
        config = tmp_path / "config.yaml"
        config.write_text(f"""
providers:
  - {{name: A, kind: openai, base_url: "{server.url}/v1", api_key: "${{A_KEY}}"}}
cache: {{backend: memory}}
audio: {{workers: 1, temp_dir: "{tmp_path / 'tmp'}"}}
data_dir: "{tmp_path / 'data'}"
""")
        done = run_cli("transcribe", "--config", str(config), str(SAMPLES / "hello-en.ogg"), cwd=tmp_path,
                       env={"A_KEY": key})
    finally:
        server.close()
    assert done.returncode == 1
    assert server.received[0].headers["Authorization"] == f"Bearer {key}"
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "Invalid file format" in line and "[redacted]" in line
    assert key not in done.stderr + done.stdout
