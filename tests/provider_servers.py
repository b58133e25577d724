"""Real HTTP servers on loopback that answer like Groq, Together, OpenAI-compatible servers and Deepgram:
the same paths, status codes, headers and bodies (success and error). Each records what it received."""

from __future__ import annotations

import email
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    fields: dict[str, list[str]] = field(default_factory=dict)  # multipart text fields
    files: dict[str, bytes] = field(default_factory=dict)  # multipart file parts


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; bytes/str -> as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, list[str]], dict[str, bytes]]:
    message = email.message_from_bytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, list[str]] = {}
    files: dict[str, bytes] = {}
    for part in message.get_payload() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_param("filename", header="content-disposition"):
            files[name] = payload
        else:
            fields.setdefault(name, []).append(payload.decode())
    return fields, files


class ProviderServer:
    """Answers each POST with the next scripted reply (the last one repeats), or with ``respond(received)``."""

    def __init__(self, replies: list[Reply] | None = None,
                 respond: Callable[[Received], Reply] | None = None) -> None:
        self.replies = list(replies or [])
        self.respond = respond
        self.received: list[Received] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                got = Received("POST", parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("multipart/form-data"):
                    got.fields, got.files = _parse_multipart(ctype, body)
                with server.lock:
                    server.received.append(got)
                    if server.respond:
                        reply = server.respond(got)
                    else:
                        reply = server.replies.pop(0) if len(server.replies) > 1 else server.replies[0]
                if reply.delay:
                    time.sleep(reply.delay)
                data = reply.body if isinstance(reply.body, bytes) else (
                    reply.body.encode() if isinstance(reply.body, str) else json.dumps(reply.body).encode())
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json", **reply.headers}
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------------------------------ wire formats


def groq_verbose(text: str = "Hello and welcome.", language: str = "English", duration: float = 9.31) -> dict:
    """Groq's verbose_json: OpenAI's shape plus ``x_groq``; language is a name, not a code."""
    return {
        "task": "transcribe", "language": language, "duration": duration, "text": " " + text,
        "segments": [
            {"id": 0, "seek": 0, "start": 0.0, "end": 2.6, "text": " Hello and", "tokens": [50365, 2425],
             "temperature": 0.0, "avg_logprob": -0.21, "compression_ratio": 0.9, "no_speech_prob": 0.01},
            {"id": 1, "seek": 0, "start": 2.6, "end": 4.1, "text": " welcome.", "tokens": [50495],
             "temperature": 0.0, "avg_logprob": -0.3, "compression_ratio": 0.9, "no_speech_prob": 0.01},
        ],
        "x_groq": {"id": "req_01jz0000000000000000000000"},
    }


def openai_error(message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None) -> dict:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


GROQ_429_HEADERS = {
    "retry-after": "15",
    "x-ratelimit-limit-requests": "2000", "x-ratelimit-remaining-requests": "1987",
    "x-ratelimit-reset-requests": "9m21.6s",
    "x-ratelimit-limit-tokens": "7200", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "14.3s",
}


def deepgram_result(transcript: str = "Selamat pagi, terima kasih.", language: str = "id",
                    duration: float = 4.86, utterances: bool = True, diarized: bool = False) -> dict:
    """``diarized``: as Deepgram answers ``diarize=true``: each word and utterance carries a ``speaker``."""
    words = [
        {"word": "selamat", "start": 0.16, "end": 0.56, "confidence": 0.99, "punctuated_word": "Selamat"},
        {"word": "pagi", "start": 0.56, "end": 0.96, "confidence": 0.98, "punctuated_word": "pagi,"},
        {"word": "terima", "start": 2.4, "end": 2.8, "confidence": 0.97, "punctuated_word": "terima"},
        {"word": "kasih", "start": 2.8, "end": 3.2, "confidence": 0.97, "punctuated_word": "kasih."},
    ]
    if diarized:
        for word, speaker in zip(words, (1, 1, 0, 0), strict=True):  # Deepgram counts from 0, in no fixed order
            word.update(speaker=speaker, speaker_confidence=0.91)
    body = {
        "metadata": {"transaction_key": "deprecated", "request_id": "6a1f0c1e-0000-4000-8000-000000000000",
                     "sha256": "5324da68ede209a16ac69a38e8cd29cee4d754434a041166cda3a1f5e0b24566",
                     "created": "2026-11-25T08:00:00.000Z", "duration": duration, "channels": 1,
                     "models": ["30089e05-99d1-4376-b32e-c263170674af"],
                     "model_info": {"30089e05-99d1-4376-b32e-c263170674af": {
                         "name": "general-nova-3", "version": "2025-01-01.0", "arch": "nova-3"}}},
        "results": {"channels": [{"alternatives": [{"transcript": transcript, "confidence": 0.98,
                                                    "words": words}],
                                  "detected_language": language, "language_confidence": 0.97}]},
    }
    if utterances:
        body["results"]["utterances"] = [
            {"start": 0.16, "end": 0.96, "confidence": 0.98, "channel": 0, "transcript": "Selamat pagi,",
             "words": words[:2], "id": "u1"},
            {"start": 2.4, "end": 3.2, "confidence": 0.97, "channel": 0, "transcript": "terima kasih.",
             "words": words[2:], "id": "u2"},
        ]
        if diarized:
            body["results"]["utterances"][0]["speaker"] = 1
            body["results"]["utterances"][1]["speaker"] = 0
    return body


def deepgram_error(code: str, message: str) -> dict:
    return {"err_code": code, "err_msg": message, "request_id": "6a1f0c1e-0000-4000-8000-000000000001"}


def chat_completion(content: str, model: str = "llama-3.3-70b-versatile") -> dict:
    """A chat completion as Groq answers it (OpenAI's shape plus ``x_groq``)."""
    return {
        "id": "chatcmpl-2b1c8a8e-7f1d-4c52-9a55-0d6c3f8e1a11", "object": "chat.completion", "created": 1764150000,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": None,
                     "finish_reason": "stop"}],
        "usage": {"queue_time": 0.02, "prompt_tokens": 120, "prompt_time": 0.01, "completion_tokens": 40,
                  "completion_time": 0.05, "total_tokens": 160, "total_time": 0.06},
        "system_fingerprint": "fp_3f3b593e33", "x_groq": {"id": "req_01kb0000000000000000000000"},
    }


def groq_chat_429(seconds: int) -> Reply:
    """Groq's answer when a model's tokens per minute are used up."""
    headers = {**GROQ_429_HEADERS, "retry-after": str(seconds), "x-ratelimit-reset-tokens": f"{seconds}s"}
    return Reply(429, openai_error(
        "Rate limit reached for model `llama-3.3-70b-versatile` in organization `org_01` service tier `on_demand` on "
        f"tokens per minute (TPM): Limit 6000, Used 5971, Requested 412. Please try again in {seconds}s.",
        "tokens", "rate_limit_exceeded"), headers)


def echo_model(received: Received, prefix: str = "") -> Reply:
    """A chat model that answers in a way a test can check: the language its instruction names, then the text."""
    body = json.loads(received.body)
    system, user = body["messages"][0]["content"], body["messages"][1]["content"]
    task = "summary" if "summar" in system.lower() else "translation"
    language = system.split(" in ")[-1].split(":")[0] if task == "summary" else system.split(" into ")[1].split(".")[0]
    return Reply(200, chat_completion(f"{prefix}<{task} {language}> {user}", body["model"]))
