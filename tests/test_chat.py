"""transhades chat: the whole bot from a terminal or a script, against a simulated Telegram, with the offline
model and real recordings."""

from __future__ import annotations

import json

import pytest
from conftest import SAMPLES, cli_command, run_cli

pytestmark = pytest.mark.slow


def converse(tmp_path, *lines: str, args: tuple[str, ...] = ()) -> tuple[list[dict], str, int]:
    done = run_cli("chat", "--json", "--out", str(tmp_path / "files"), *args, cwd=tmp_path,
                   stdin="\n".join(lines) + "\n", timeout=240)
    return [json.loads(line) for line in done.stdout.splitlines()], done.stderr, done.returncode


def test_a_conversation_with_commands_buttons_a_recording_and_a_file_back(tmp_path):
    events, err, code = converse(tmp_path, "/start", f"/send {SAMPLES / 'hello-en.ogg'}", "/language", "/press Indonesian",
                                 "/format srt", f"/send {SAMPLES / 'halo-id.ogg'}", "/send missing.ogg")
    assert code == 0, err
    users = [e["text"] for e in events if e["event"] == "user"]
    assert users[:2] == ["/start", f"/send {SAMPLES / 'hello-en.ogg'}"], "each input is echoed when it is sent"
    transcript = next(e for e in events if e["event"] == "send" and "welcome" in e["text"].lower())
    assert events.index(transcript) < events.index(next(e for e in events if e.get("text") == "/language")), \
        "a line waits until the bot is idle: the transcript comes before the next line"
    picker = next(e for e in events if e["event"] == "send" and "automatic" in e["buttons"])
    assert "Indonesian" in picker["buttons"] and "automatic" in picker["buttons"], "languages by name"
    assert any(e["event"] == "edit" and e["text"] == "Language: Indonesian (id)." for e in events), "the button was pressed"
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


def test_a_program_can_wait_for_each_answer_before_it_types_the_next_line(tmp_path):
    """Each event is a line, flushed as it happens: the driver reads the answer to /help before it sends /format."""
    import os
    import queue
    import subprocess
    import threading
    import time

    command = cli_command()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    chat = subprocess.Popen([*command, "chat", "--json"], cwd=tmp_path, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    lines: queue.Queue[str] = queue.Queue()  # read by a thread: two events in one pipe read are two lines here
    threading.Thread(target=lambda: [lines.put(line) for line in chat.stdout], daemon=True).start()

    def answer(needle: str, seconds: float = 120) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                event = json.loads(lines.get(timeout=1.0))
            except queue.Empty:
                continue
            if event["event"] != "user" and needle in event["text"]:
                return event
        raise AssertionError(f"no answer with {needle!r} while the chat waits for the next line")

    try:
        chat.stdin.write("/help\n")
        chat.stdin.flush()
        assert "/history" in answer("/provider")["text"]
        chat.stdin.write("/format\n")
        chat.stdin.flush()
        assert answer("How should transcripts arrive")["buttons"] == ["text", "txt", "srt", "vtt"]
        chat.stdin.close()
        assert chat.wait(timeout=60) == 0
    finally:
        chat.kill()
        chat.wait()


def test_a_chat_session_never_answers_with_another_sessions_transcript(tmp_path):
    first, err, code = converse(tmp_path, f"/send {SAMPLES / 'hello-en.ogg'}")
    assert code == 0, err
    assert any("welcome" in e["text"].lower() for e in first if e["event"] == "send")
    later, err, code = converse(tmp_path, f"/send {SAMPLES / 'halo-id.ogg'}", f"/send {SAMPLES / 'hello-en.ogg'}",
                                args=("--user", "2"))
    assert code == 0, err
    answers = [e["text"] for e in later if e["event"] in ("send", "edit")]
    # its own words (the model hears "Salamat" or "Selamat" pagi depending on its version; the thanks are sure)
    assert any("terima kasih" in text.lower() for text in answers), "other audio: its own transcript"
    assert not any("transcribed this file before" in text for text in answers), "a session's cache is its own"


def test_a_group_in_chat_where_only_its_admin_turns_auto_on_and_then_every_voice_note_is_answered(tmp_path):
    events, err, code = converse(tmp_path, "/group member", "/auto on", "/group admin", "/auto on", "/group member",
                                 f"/send {SAMPLES / 'hello-en.ogg'}", "/private", "/group bystander")
    assert code == 0, err
    said = [e["text"] for e in events if e["event"] in ("send", "edit")]
    assert said[0] == "Only this chat's admins can change its settings."
    assert "From now on I transcribe every voice note and video note in this chat." in said
    assert any("welcome" in text.lower() for text in said), "the member's voice note, unasked, in the group"
    assert "error: /group: say /group admin or /group member" in err


def test_live_a_program_cancels_a_note_mid_job_and_sends_a_second_one_as_in_telegram(tmp_path):
    """--live: every line goes in at once while the job runs; /cancel stops the first note (its words never come),
    the second note is answered, /wait waits until the bot is idle; one JSON object per line throughout."""
    events, err, code = converse(tmp_path, f"/send {SAMPLES / 'meeting.ogg'}", "/cancel",
                                 f"/send {SAMPLES / 'hello-en.ogg'}", "/wait", "/status", args=("--live",))
    assert code == 0, err
    texts = [e["text"] for e in events if e["event"] != "user"]
    assert "Cancelled 1 job(s)." in texts, texts
    assert any("welcome" in t.lower() for t in texts), "the second note is answered"
    assert not any("good morning" in t.lower() for t in texts), "the cancelled note's words never come"
    status_asked = next(i for i, e in enumerate(events) if e["event"] == "user" and e["text"] == "/status")
    assert any("welcome" in (e.get("text") or "").lower() for e in events[:status_asked]), \
        "after /wait the bot was idle: the transcript came before /status was sent"


def test_vocab_through_the_chat_in_indonesian_and_a_recording_that_does_not_say_the_terms(tmp_path):
    events, err, code = converse(tmp_path, "/vocab tambah Kemendikbudristek, Sutrisno Wibowo", "/vocab",
                                 "/vocab add <b>x</b>", f"/send {SAMPLES / 'hello-en.ogg'}",
                                 args=("--language", "id"))
    assert code == 0, err
    said = [e["text"] for e in events if e["event"] == "send"]
    assert said[0].startswith("Ditambahkan: Kemendikbudristek, Sutrisno Wibowo.")
    assert said[1] == "Kosakata obrolan ini (2): Kemendikbudristek, Sutrisno Wibowo"
    assert said[2].startswith("\u201c<b>x</b>\u201d tampak seperti markup")
    transcript = next(e["text"] for e in events if e["event"] == "send" and "welcome" in e["text"].lower())
    assert "Kemendikbudristek" not in transcript and "Sutrisno" not in transcript and "Wibowo" not in transcript


@pytest.mark.parametrize("language", ["en", "id"])
def test_a_note_mixing_indonesian_and_english_in_a_private_chat_and_a_group(tmp_path, language):
    """The bundled mixed note (Indonesian, English, Indonesian) from a user whose Telegram is in English and one
    whose is in Indonesian: each part comes back in its language, privately and in a group with /auto on."""
    mixed = SAMPLES / "campur-id-en.ogg"
    config = tmp_path / "config.yaml"
    config.write_text("providers: [{name: local, kind: local}]\nlanguages: [id, en]\n")
    events, err, code = converse(tmp_path, f"/send {mixed}", "/group admin", "/auto on", f"/send {mixed}",
                                 args=("--language", language, "--config", str(config)))
    assert code == 0, err
    group_from = next(i for i, e in enumerate(events) if e["event"] == "user" and e["text"] == "/group admin")
    answers = [(i, e["text"].lower()) for i, e in enumerate(events) if e["event"] in ("send", "edit")
               and "selamat pagi" in (e["text"] or "").lower()]
    assert any(i < group_from for i, _ in answers) and any(i > group_from for i, _ in answers), \
        "answered in the private chat and in the group"
    for _, text in answers:
        assert "prepared the numbers from last quarter" in text and "terima kasih. tolong" in text, \
            "the last Indonesian sentence too (in English it was heard as \"Mike, terima kasih.\" and no more)"
