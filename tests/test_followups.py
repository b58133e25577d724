"""What follows a transcript, through ``transhades chat --json`` with the offline model and real recordings: the
Translate / Summary / SRT buttons under it, /translate and /summary through a loopback chat-completions server
that answers as Groq does (a 429 with Retry-After first), Whisper's own translation into English without a
language model, and the per-user switch that keeps nothing."""

from __future__ import annotations

import json
import threading

import pytest
from conftest import SAMPLES, run_cli
from provider_servers import ProviderServer, Reply, echo_model, groq_chat_429
from test_languages import speak

pytestmark = pytest.mark.slow

BUTTONS = {"en": ["Translate", "Summary", "SRT"], "id": ["Terjemahkan", "Ringkasan", "SRT"]}


def converse(tmp_path, *lines: str, lang: str = "en", env: dict | None = None) -> list[dict]:
    done = run_cli("chat", "--json", "--language", lang, "--out", str(tmp_path / f"files-{lang}"), cwd=tmp_path,
                   stdin="\n".join(lines) + "\n", timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def after(events: list[dict], line: str, nth: int = 0) -> list[dict]:
    """What the bot said in answer to an input line (its ``nth`` time), up to the next line."""
    start = [i for i, e in enumerate(events) if e["event"] == "user" and e["text"] == line][nth]
    rest = events[start + 1:]
    end = next((i for i, e in enumerate(rest) if e["event"] == "user"), len(rest))
    return rest[:end]


class Model:
    """The loopback model: the first request is rate limited for a second; /translate de gets a long answer."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0
        self.server = ProviderServer(respond=self.respond)

    def respond(self, received) -> Reply:
        with self.lock:
            self.calls += 1
            if self.calls == 1:
                return groq_chat_429(1)
        long = "into German" in json.loads(received.body)["messages"][0]["content"]
        return echo_model(received, prefix="Lang " * 1200 if long else "")

    def texts(self) -> list[str]:
        return [json.loads(r.body)["messages"][1]["content"] for r in self.server.received]


@pytest.fixture
def model():
    m = Model()
    yield m
    m.server.close()


def write_config(tmp_path, llm_url: str | None = None) -> None:
    text = "providers:\n  - {name: local, kind: local, model: base}\n"
    if llm_url:
        text += f"llm:\n  base_url: {llm_url}/openai/v1\n  model: llama-3.3-70b-versatile\n  api_key: ${{LLM_KEY}}\n"
    (tmp_path / "config.yaml").write_text(text)


def test_translate_summary_and_srt_under_a_transcript_through_the_language_model(tmp_path, model):
    write_config(tmp_path, model.server.url)
    hello = f"/send {SAMPLES / 'hello-en.ogg'}"
    events = converse(tmp_path, hello, "/press SRT", "/press Translate", "/press Indonesian", "/summary",
                      "/translate de", env={"LLM_KEY": "gsk_test_key"})
    transcript = next(e for e in after(events, hello) if e["event"] == "send" and e["buttons"])
    assert "welcome" in transcript["text"].lower() and transcript["buttons"] == BUTTONS["en"]

    (srt,) = [e for e in after(events, "/press SRT") if e["event"] == "document"]
    assert srt["file"].endswith(".srt") and "00:00:00,000 --> " in open(srt["file"]).read()

    picker = next(e for e in after(events, "/press Translate") if e["event"] == "send")
    assert picker["text"] == "Translate into which language?" and "Indonesian" in picker["buttons"]

    translated = after(events, "/press Indonesian")
    assert translated and all(e["event"] == "edit" and e["message_id"] == picker["message_id"] and not e["buttons"]
                              for e in translated), "the picker stops offering and becomes the answer"
    assert translated[-1]["text"] == f"Translation (Indonesian):\n\n<translation Indonesian> {transcript['text']}"
    assert model.texts()[:2] == [transcript["text"]] * 2, "the transcript went to the model, and again after the 429"
    assert model.calls == 4, "three requests, one asked again once its Retry-After had passed"

    summary = [e for e in after(events, "/summary") if e["event"] in ("send", "edit")]
    assert summary[0]["text"] == "Summarizing…"
    assert summary[-1]["text"] == f"Summary:\n\n<summary English> {transcript['text']}"

    long = [e for e in after(events, "/translate de") if e["event"] in ("send", "edit")]
    parts = [e["text"] for e in long[1:]]
    assert len(parts) == 2 and all(len(p) <= 4096 for p in parts), "an answer over 4096 characters is split"
    assert parts[0].startswith("Translation (German):\n\nLang Lang") and parts[1].endswith(transcript["text"])


def test_the_same_in_indonesian(tmp_path, model):
    write_config(tmp_path, model.server.url)
    halo = f"/send {SAMPLES / 'halo-id.ogg'}"
    events = converse(tmp_path, halo, "/translate en", "/press Ringkasan", "/help", "/history off", "/history on",
                      lang="id", env={"LLM_KEY": "gsk_test_key"})
    transcript = next(e for e in after(events, halo) if e["event"] == "send" and e["buttons"])
    assert transcript["buttons"] == BUTTONS["id"]
    translated = after(events, "/translate en")
    assert translated[0]["text"] == "Menerjemahkan ke Inggris…"
    assert translated[-1]["text"] == f"Terjemahan (Inggris):\n\n<translation English> {transcript['text']}"
    summary = after(events, "/press Ringkasan")
    assert summary[0]["text"] == "Meringkas…"
    assert summary[-1]["text"] == f"Ringkasan:\n\n<summary Indonesian> {transcript['text']}"
    help_text = after(events, "/help")[0]["text"]
    for command in ("/translate", "/summary", "/history", "/search", "/export", "/stats", "/forget"):
        assert command in help_text
    assert after(events, "/history off")[0]["text"].startswith("Riwayat dimatikan")
    assert after(events, "/history on")[0]["text"].startswith("Riwayat menyala")


def test_without_a_language_model_whisper_translates_into_english_and_other_targets_say_how(tmp_path):
    write_config(tmp_path)
    spanish = speak(tmp_path, "es", "Buenos días. Muchas gracias por tu mensaje. El tiempo está muy bonito hoy.")
    send = f"/send {spanish}"
    events = converse(tmp_path, send, "/translate en", "/press Translate", "/press German", "/summary")
    transcript = next(e for e in after(events, send) if e["event"] == "send" and e["buttons"])
    assert "buenos" in transcript["text"].lower()
    translating = after(events, "/translate en")
    assert any(e["text"] == "Translating into English…" for e in translating), "the status says what it does"
    answer = [e for e in translating if e["event"] == "send"][-1]["text"]
    assert answer.startswith("Translation (English):\n\n")
    assert "good morning" in answer.lower() and "weather" in answer.lower(), answer
    chosen, told = after(events, "/press German")[-2:]
    assert chosen["event"] == "edit" and chosen["text"] == "Translate into which language? → German"
    german = told["text"]
    assert german == "I cannot translate into German on this bot; /translate en (English) works.", \
        "what works now, not how to edit the config"
    assert after(events, "/summary")[-1]["text"] == "This bot cannot summarize transcripts."


def test_a_user_who_turns_history_off_has_nothing_kept_and_forget_keeps_it_off(tmp_path):
    write_config(tmp_path)
    hello = f"/send {SAMPLES / 'hello-en.ogg'}"
    events = converse(tmp_path, "/history off", hello, "/history", "/search welcome", "/translate en", "/forget",
                      "/press Delete everything", "/history on", hello, "/search welcome")
    assert after(events, "/history off")[0]["text"].startswith("History is off")
    transcript = next(e for e in after(events, hello) if e["event"] == "send" and "welcome" in e["text"].lower())
    assert transcript["buttons"] == [], "nothing kept: nothing to translate or export later"
    assert after(events, "/history")[0]["text"].startswith("Your history is off")
    assert after(events, "/search welcome")[0]["text"].startswith("No transcript of yours")
    assert after(events, "/translate en")[0]["text"].startswith("No transcript of yours is kept")
    assert after(events, "/press Delete everything")[-1]["text"].endswith("History stays off, as you chose.")
    assert after(events, "/history on")[0]["text"].startswith("History is on")
    again = next(e for e in after(events, hello, 1) if e["event"] == "send" and e["buttons"])
    assert again["buttons"] == BUTTONS["en"], "kept again once turned back on"
    assert after(events, "/search welcome", 1)[0]["text"].startswith("Found")
