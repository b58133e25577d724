"""``transhades transcribe`` as a user runs it: a real process, the real model, real ffmpeg."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLES, make_media, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> dict[str, str]:
    """A user's cache dir for the module: the bundled model is assembled there once."""
    return {"XDG_CACHE_HOME": str(tmp_path_factory.mktemp("xdg"))}


def test_transcribe_sample_offline_with_the_embedded_default(tmp_path, home):
    done = run_cli("transcribe", str(SAMPLES / "hello-en.ogg"), cwd=tmp_path, env=home)
    assert done.returncode == 0, done.stderr
    text = done.stdout.lower()
    assert "welcome" in text and "voice note" in text and "transcript" in text
    assert "Traceback" not in done.stderr


def test_second_run_of_the_same_file_says_cached(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "own-cache")}
    first = run_cli("transcribe", "--format", "json", str(SAMPLES / "hello-en.ogg"), cwd=tmp_path, env=env)
    second = run_cli("transcribe", "--format", "json", str(SAMPLES / "hello-en.ogg"), cwd=tmp_path, env=env)
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["cached"] is False and b["cached"] is True
    assert a["text"] == b["text"] and b["provider"] == "local" and b["language"] == "en"
    assert b["file"].endswith("hello-en.ogg") and b["duration"] == pytest.approx(9.3, abs=0.2)
    assert all({"start", "end", "text"} <= set(s) for s in b["segments"]) and b["segments"]


def test_indonesian_sample_with_a_fixed_language(tmp_path, home):
    done = run_cli("transcribe", "--language", "id", "--format", "srt", str(SAMPLES / "halo-id.ogg"),
                   cwd=tmp_path, env=home)
    assert done.returncode == 0, done.stderr
    assert "terima kasih" in done.stdout.lower()
    assert done.stdout.startswith("1\n00:00:0")


def test_bad_files_each_get_one_error_line_and_good_ones_still_succeed(tmp_path, home, ffmpeg):
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.ogg"
    text.write_text("shopping list: milk, eggs\n")
    noise = tmp_path / "random.mp3"
    noise.write_bytes(bytes((i * 7919) % 256 for i in range(5000)))
    silent_video = make_media(ffmpeg, tmp_path / "no audio.mp4", "-f", "lavfi", "-i",
                              "testsrc=size=64x64:rate=5:duration=1", "-c:v", "libx264", "-preset", "ultrafast")
    odd = tmp_path / "my voice; rm -rf $HOME.ogg"
    odd.write_bytes((SAMPLES / "hello-en.ogg").read_bytes())
    missing = tmp_path / "gone.ogg"
    files = [missing, empty, odd, text, noise, silent_video]
    done = run_cli("transcribe", "--format", "json", *map(str, files), cwd=tmp_path, env=home)
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert errors == [
        f"error: {missing}: no such file",
        f"error: {empty}: the file is empty",
        f"error: {text}: is not an audio or video file that ffmpeg can read",
        f"error: {noise}: is not an audio or video file that ffmpeg can read",
        f"error: {silent_video}: has no audio track",
    ]
    (result,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert result["file"] == str(odd) and "welcome" in result["text"].lower()


def test_unknown_provider_and_bad_language_are_one_line_usage_errors(tmp_path, home):
    done = run_cli("transcribe", "--provider", "groq", str(SAMPLES / "hello-en.ogg"), cwd=tmp_path, env=home)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --provider groq: no such enabled provider; enabled: local"
    done = run_cli("transcribe", "--language", "english!", "x.ogg", cwd=tmp_path, env=home)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "is not a language code" in done.stderr


def test_config_flag_with_problems_exits_2_without_a_traceback(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("providers: [{name: local, kind: local, instances: 0}]\n")
    done = run_cli("transcribe", "--config", str(bad), str(SAMPLES / "hello-en.ogg"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "error: providers[0].instances: must be >= 1"


def test_run_without_credentials_fails_at_once_naming_the_variables(tmp_path):
    config = str(Path(__file__).parent.parent / "config.yaml")
    done = run_cli("run", "--config", config, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr == ("error: the bot needs TELEGRAM_BOT_TOKEN, TELEGRAM_API_ID, TELEGRAM_API_HASH; "
                           "set them in the environment or .env\n")
    done = run_cli("run", "--config", config, cwd=tmp_path, env={"TELEGRAM_BOT_TOKEN": "123456789:" + "A" * 35})
    assert done.returncode == 2
    assert done.stderr.startswith("error: the bot needs TELEGRAM_API_ID, TELEGRAM_API_HASH;")


def test_on_a_terminal_a_long_recordings_text_is_printed_as_its_parts_are_done():
    import io

    from transhades.app.cli import _Live

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    live = _Live(out, "text")
    live.partial("Part one.")
    assert out.getvalue() == "Part one."
    live.partial("Part one. Part two.")
    assert out.getvalue() == "Part one. Part two."
    assert live.finish("Part one. Part two. Part three.") is True
    assert out.getvalue() == "Part one. Part two. Part three.\n", "the whole text, once"
    piped = io.StringIO()
    quiet = _Live(piped, "text")
    quiet.partial("Part one.")
    assert piped.getvalue() == "" and quiet.finish("Part one. Part two.") is False, "a pipe gets the usual output"
    assert _Live(Terminal(), "srt").on is False, "subtitles are printed whole"


@pytest.mark.parametrize("argv,survives", [(["transhades", "run"], True), (["transhades", "-v", "run"], True),
                                           (["transhades", "transcribe", "run"], False), (["pytest", "run"], False)])
def test_a_stop_while_run_is_loading_is_remembered_for_the_service_and_other_commands_keep_the_default(argv,
                                                                                                      survives):
    import subprocess
    import sys

    code = ("import os, signal, sys\nfrom transhades.app import early\n"
            f"early.guard({argv!r})\nos.kill(os.getpid(), signal.SIGTERM)\nprint(early.taken(), early.taken())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    if survives:
        assert (done.returncode, done.stdout.strip()) == (0, "[15] []"), done.stderr
    else:
        assert done.returncode == -15


def test_a_child_abandoned_at_stop_does_not_hold_or_abort_the_exit_and_the_code_is_the_commands(tmp_path):
    """A provider that did not stop in time still has threads running (the model's native ones): the interpreter's
    finalisation would wait on them or abort under them (SIGABRT). The process leaves with its command's own code
    at once, after saying who was left and flushing what it printed."""
    import subprocess
    import sys
    import time

    script = tmp_path / "stuck.py"
    script.write_text(
        "import sys, threading, time\n"
        "import transhades.__main__ as entry\n"
        "import transhades.app.cli as cli\n"
        "import transhades.app.tree as tree\n"
        "def command():\n"
        "    threading.Thread(target=time.sleep, args=(120,), daemon=False).start()  # the model's threads\n"
        "    tree.ABANDONED.append('provider:local-1')\n"
        "    print('the transcript')\n"
        "    return 3\n"
        "cli.main = command\n"
        "sys.argv = ['transhades', 'transcribe', 'x.ogg']\n"
        "sys.exit(entry.main())\n")
    began = time.monotonic()
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert time.monotonic() - began < 30, "did not wait for the abandoned threads"
    assert done.returncode == 3 and done.stdout == "the transcript\n"
    assert done.stderr.strip().splitlines()[-1] == "stopped without waiting for provider:local-1"
