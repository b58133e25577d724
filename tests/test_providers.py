"""Provider clients against real HTTP servers on loopback that speak each provider's wire format."""

from __future__ import annotations

import email.utils
import logging
import socket
import time
from pathlib import Path

import pytest
from provider_servers import (
    GROQ_429_HEADERS,
    ProviderServer,
    Reply,
    deepgram_error,
    deepgram_result,
    groq_verbose,
    openai_error,
)

from transhades.errors import BadInput, ProviderRejectedKey, ProviderUnavailable, RateLimited, UploadTooLarge
from transhades.media import AudioChunk
from transhades.providers.deepgram import Deepgram
from transhades.providers.http import RetryPolicy, parse_go_duration, wait_from_headers
from transhades.providers.openai import OpenAICompatible

KEY = "gsk_" + "k" * 48


@pytest.fixture
def chunk(tmp_path: Path) -> AudioChunk:
    path = tmp_path / "audio.ogg"
    path.write_bytes(b"OggS" + bytes(range(256)) * 40)
    return AudioChunk(0, str(path), 0.0, 9.5, path.stat().st_size, "audio/ogg")


@pytest.fixture
def serve():
    servers = []

    def start(*replies: Reply, respond=None) -> ProviderServer:
        server = ProviderServer(list(replies), respond)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def groq(server: ProviderServer, key: str | None = KEY, **kw) -> OpenAICompatible:
    kw.setdefault("sleep", Sleeps())
    return OpenAICompatible("groq", server.url + "/openai/v1", "whisper-large-v3-turbo", key, **kw)


# ------------------------------------------------------------------------------------------ OpenAI-compatible


def test_openai_kind_sends_multipart_with_bearer_key_and_parses_verbose_json(serve, chunk):
    server = serve(Reply(200, groq_verbose()))
    transcript = groq(server).transcribe(chunk, None)
    got = server.received[0]
    assert got.path == "/openai/v1/audio/transcriptions"
    assert got.headers["Authorization"] == f"Bearer {KEY}"
    assert got.fields["model"] == ["whisper-large-v3-turbo"]
    assert got.fields["response_format"] == ["verbose_json"]
    assert got.fields["timestamp_granularities[]"] == ["segment"]
    assert "language" not in got.fields, "detecting: no language sent"
    assert got.files["file"] == Path(chunk.path).read_bytes()
    assert transcript.text == "Hello and welcome." and transcript.language == "en"
    assert transcript.duration == 9.31 and transcript.provider == "groq"
    assert [(s.start, s.end, s.text) for s in transcript.segments] == [(0.0, 2.6, "Hello and"), (2.6, 4.1, "welcome.")]


def test_fixed_language_is_sent_and_together_detects_with_auto(serve, chunk):
    server = serve(Reply(200, groq_verbose()))
    groq(server).transcribe(chunk, "id")
    assert server.received[0].fields["language"] == ["id"]
    together = OpenAICompatible("together", server.url + "/v1", "openai/whisper-large-v3", KEY, auto_language="auto")
    together.transcribe(chunk, None)
    assert server.received[1].fields["language"] == ["auto"]


def test_server_without_a_key_gets_no_authorization_header(serve, chunk):
    server = serve(Reply(200, {"text": "hi"}))
    groq(server, key=None).transcribe(chunk, None)
    assert "Authorization" not in server.received[0].headers


def test_server_rejecting_verbose_json_is_asked_again_with_json_and_remembered(serve, chunk):
    def respond(got):
        if got.fields["response_format"] == ["verbose_json"]:
            return Reply(400, openai_error("response_format 'verbose_json' is not supported", param="response_format"))
        return Reply(200, {"text": "plain answer"})

    server = serve(respond=respond)
    client = groq(server)
    assert client.transcribe(chunk, None).text == "plain answer"
    assert client.transcribe(chunk, None).text == "plain answer"
    assert [r.fields["response_format"][0] for r in server.received] == ["verbose_json", "json", "json"]


def test_server_answering_only_text_is_accepted(serve, chunk):
    server = serve(Reply(200, {"text": " only text "}))
    transcript = groq(server).transcribe(chunk, None)
    assert (transcript.text, transcript.language, transcript.segments) == ("only text", None, ())
    assert transcript.duration == chunk.duration


def test_429_with_retry_after_is_rate_limited_for_that_long_and_not_retried(serve, chunk):
    server = serve(Reply(429, openai_error("Rate limit reached for model `whisper-large-v3-turbo` on seconds of audio "
                                           "per hour (ASPH): Limit 7200, Used 7180, Requested 48. Please try again "
                                           "in 14.3s.", "audio_seconds", "rate_limit_exceeded"), GROQ_429_HEADERS))
    with pytest.raises(RateLimited) as caught:
        groq(server).transcribe(chunk, None)
    assert caught.value.retry_after == 15.0 and "ASPH" in str(caught.value)
    assert len(server.received) == 1


def test_429_without_retry_after_uses_the_exhausted_go_duration_reset(serve, chunk):
    headers = {k: v for k, v in GROQ_429_HEADERS.items() if k != "retry-after"}
    headers.update({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "2m59.56s",
                    "x-ratelimit-remaining-tokens": "100"})
    server = serve(Reply(429, openai_error("Rate limit reached", "requests", "rate_limit_exceeded"), headers))
    with pytest.raises(RateLimited) as caught:
        groq(server).transcribe(chunk, None)
    assert caught.value.retry_after == pytest.approx(179.56)


def test_429_with_an_http_date_retry_after(serve, chunk):
    when = email.utils.formatdate(time.time() + 90, usegmt=True)
    server = serve(Reply(429, openai_error("slow down"), {"Retry-After": when}))
    with pytest.raises(RateLimited) as caught:
        groq(server).transcribe(chunk, None)
    assert 85 <= caught.value.retry_after <= 91


def test_503_with_retry_after_is_unavailable_for_that_long_without_hammering(serve, chunk):
    server = serve(Reply(503, openai_error("The server is overloaded", "server_error"), {"Retry-After": "20"}))
    with pytest.raises(ProviderUnavailable) as caught:
        groq(server).transcribe(chunk, None)
    assert caught.value.retry_after == 20.0 and len(server.received) == 1


def test_500_then_success_is_retried_with_growing_backoff(serve, chunk):
    server = serve(Reply(500, openai_error("Internal error", "server_error")),
                   Reply(502, "<html>Bad Gateway</html>", {"Content-Type": "text/html"}),
                   Reply(200, groq_verbose()))
    sleeps = Sleeps()
    client = groq(server, retry=RetryPolicy(attempts=3, min_seconds=0.5, max_seconds=8), sleep=sleeps)
    assert client.transcribe(chunk, None).text == "Hello and welcome."
    assert len(server.received) == 3
    assert len(sleeps) == 2 and 0.5 <= sleeps[0] <= 1.5 and sleeps[1] >= 1.0


def test_500_every_time_gives_up_after_the_configured_tries(serve, chunk):
    server = serve(Reply(500, openai_error("Internal error", "server_error")))
    with pytest.raises(ProviderUnavailable) as caught:
        groq(server, retry=RetryPolicy(attempts=3)).transcribe(chunk, None)
    assert "after 3 tries" in str(caught.value) and len(server.received) == 3
    assert caught.value.retry_after is None


def test_timeout_is_retried_then_reported(serve, chunk):
    server = serve(Reply(200, groq_verbose(), delay=1.5))
    started = time.monotonic()
    with pytest.raises(ProviderUnavailable, match="no answer within 0.3 s"):
        groq(server, timeout=0.3, retry=RetryPolicy(attempts=2)).transcribe(chunk, None)
    assert time.monotonic() - started < 1.5 and len(server.received) == 2


def test_connection_refused_is_reported_as_unavailable(chunk):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = OpenAICompatible("groq", f"http://127.0.0.1:{port}/v1", "m", KEY, retry=RetryPolicy(attempts=2),
                              sleep=Sleeps())
    with pytest.raises(ProviderUnavailable, match="connection refused"):
        client.transcribe(chunk, None)


@pytest.mark.parametrize("status, body, error", [
    (401, openai_error("Invalid API Key", "invalid_request_error", "invalid_api_key"), ProviderRejectedKey),
    (403, openai_error("Forbidden", "permission_error"), ProviderRejectedKey),
    (413, openai_error("Request Entity Too Large", "invalid_request_error", "request_too_large"), UploadTooLarge),
    (400, openai_error("could not process file - is it a valid media file?", "invalid_request_error"), BadInput),
    (400, openai_error("model `whisper-9` does not exist", "invalid_request_error", "model_not_found"),
     ProviderUnavailable),
])
def test_client_errors_map_to_typed_errors(serve, chunk, status, body, error):
    server = serve(Reply(status, body))
    with pytest.raises(error) as caught:
        groq(server).transcribe(chunk, None)
    assert body["error"]["message"] in str(caught.value)
    assert len(server.received) == 1, "client errors are never retried"


def test_malformed_json_is_unavailable_not_a_crash(serve, chunk):
    server = serve(Reply(200, b"{\"text\": \"cut off", {"Content-Type": "application/json"}))
    with pytest.raises(ProviderUnavailable, match="not JSON"):
        groq(server).transcribe(chunk, None)
    server.replies = [Reply(200, ["not", "an", "object"])]
    with pytest.raises(ProviderUnavailable, match="without a transcript"):
        groq(server).transcribe(chunk, None)


def test_request_log_shows_status_and_bytes_but_never_the_key(serve, chunk, caplog):
    server = serve(Reply(401, openai_error("Invalid API Key")))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderRejectedKey):
        groq(server).transcribe(chunk, None)
    assert "provider=groq status=401" in caplog.text and f"bytes={chunk.size}" in caplog.text
    assert KEY not in caplog.text


# ------------------------------------------------------------------------------------------ Deepgram


def deepgram(server: ProviderServer, **kw) -> Deepgram:
    return Deepgram("deepgram", server.url + "/v1", "nova-3", "dg-secret-key", sleep=Sleeps(), **kw)


def test_deepgram_sends_raw_audio_with_token_header_and_parses_utterances(serve, chunk):
    server = serve(Reply(200, deepgram_result()))
    transcript = deepgram(server).transcribe(chunk, None)
    got = server.received[0]
    assert got.path == "/v1/listen"
    assert got.headers["Authorization"] == "Token dg-secret-key"
    assert got.headers["Content-Type"] == "audio/ogg"
    assert got.body == Path(chunk.path).read_bytes()
    assert got.query["model"] == ["nova-3"] and got.query["smart_format"] == ["true"]
    assert got.query["detect_language"] == ["true"] and "language" not in got.query
    assert transcript.text == "Selamat pagi, terima kasih." and transcript.language == "id"
    assert transcript.duration == 4.86
    assert [(s.start, s.end, s.text) for s in transcript.segments] == [(0.16, 0.96, "Selamat pagi,"),
                                                                       (2.4, 3.2, "terima kasih.")]


def test_deepgram_fixed_language_and_segments_from_words_without_utterances(serve, chunk):
    server = serve(Reply(200, deepgram_result(utterances=False)))
    transcript = deepgram(server).transcribe(chunk, "id")
    assert server.received[0].query["language"] == ["id"] and "detect_language" not in server.received[0].query
    assert [s.text for s in transcript.segments] == ["Selamat pagi,", "terima kasih."]


def test_deepgram_whisper_model_can_be_chosen_per_request(serve, chunk):
    server = serve(Reply(200, deepgram_result()))
    deepgram(server).transcribe(chunk, None, model="whisper")
    assert server.received[0].query["model"] == ["whisper"]


@pytest.mark.parametrize("status, code, message, error", [
    (429, "TOO_MANY_REQUESTS", "Too many requests. Please try again later", RateLimited),
    (401, "INVALID_AUTH", "Invalid credentials.", ProviderRejectedKey),
    (402, "ASR_PAYMENT_REQUIRED", "Project does not have enough credits for an ASR request.", ProviderRejectedKey),
    (400, "Bad Request", "Bad Request: failed to process audio: corrupt or unsupported data", BadInput),
])
def test_deepgram_error_bodies_map_to_typed_errors(serve, chunk, status, code, message, error):
    server = serve(Reply(status, deepgram_error(code, message)))
    with pytest.raises(error) as caught:
        deepgram(server).transcribe(chunk, None)
    assert message in str(caught.value)


def test_deepgram_answer_without_results_is_unavailable(serve, chunk):
    server = serve(Reply(200, {"metadata": {"duration": 1.0}}))
    with pytest.raises(ProviderUnavailable, match="without results"):
        deepgram(server).transcribe(chunk, None)


# ------------------------------------------------------------------------------------------ header parsing


@pytest.mark.parametrize("text, seconds", [("2m59.56s", 179.56), ("7.66s", 7.66), ("250ms", 0.25), ("1h2m3s", 3723.0),
                                           ("12", 12.0), ("soon", None), ("", None)])
def test_go_durations(text, seconds):
    assert parse_go_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_without_remaining_counts_the_longest_reset_wins():
    assert wait_from_headers({"x-ratelimit-reset-requests": "3s", "x-ratelimit-reset-tokens": "1m"}) == 60.0
    assert wait_from_headers({"content-type": "application/json"}) is None
