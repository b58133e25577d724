"""transhades chat: the whole bot from a terminal or a script, against a simulated Telegram, with the offline
model and real recordings."""

from __future__ import annotations

import json

import pytest

from conftest import SAMPLES, run_cli

pytestmark = pytest.mark.slow


def converse(tmp_path, *lines: str, args: tuple[str, ...] = ()) -> tuple[list[dict], str, int]:
    done = run_cli("chat", "--json", "--out", str(tmp_path / "files"), *args, cwd=tmp_path,
                   stdin="\n".join(lines) + "\n", timeout=240)
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr, done.returncode


def test_a_conversation_with_commands_buttons_a_recording_and_a_file_back(tmp_path):
    events, err, code = converse(tmp_path, "/start", f"/send {SAMPLES / 'hello-en.ogg'}", "/language", "/press id",
                                 "/format srt", f"/send {SAMPLES / 'halo-id.ogg'}", "/send missing.ogg")
    assert code == 0, err
    users = [e["text"] for e in events if e["event"] == "user"]
    assert users[:2] == ["/start", f"/send {SAMPLES / 'hello-en.ogg'}"], "each input is echoed when it is sent"
    transcript = next(e for e in events if e["event"] == "send" and "welcome" in e["text"].lower())
    assert events.index(transcript) < events.index(next(e for e in events if e.get("text") == "/language")), \
        "a line waits until the bot is idle: the transcript comes before the next line"
    picker = next(e for e in events if e["event"] == "send" and "automatic" in e["buttons"])
    assert "id" in picker["buttons"] and "automatic" in picker["buttons"]
    assert any(e["event"] == "edit" and e["text"] == "Language: id." for e in events), "the button was pressed"
    document = next(e for e in events if e["event"] == "document")
    srt = open(document["file"]).read()
    assert document["file"].startswith(str(tmp_path / "files")) and srt.startswith("1\n00:00:00,000 --> ")
    assert "selamat pagi" in srt.lower(), "Indonesian, as the user asked"
    assert "error: /send: no such file 'missing.ogg'" in err and "Traceback" not in err


def test_plain_output_reads_as_a_conversation_and_an_unknown_button_is_one_line(tmp_path):
    done = run_cli("chat", cwd=tmp_path, stdin="/format\n/press pdf\nhello\n", timeout=240)
    assert done.returncode == 0, done.stderr
    assert "bot: How should transcripts arrive? Now: text.   [text | txt | srt | vtt]" in done.stdout
    assert "bot: I can transcribe voice notes" in done.stdout, "a plain text line is a message to the bot"
    assert "error: /press: no button 'pdf'" in done.stderr
