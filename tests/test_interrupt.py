"""Ctrl-C or SIGTERM on `transhades transcribe`: no ffmpeg left running, no temporary audio left behind, and the
exit comes at once with 130 (SIGINT) or 143 (SIGTERM)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import cli_command, make_media, wait_for
from provider_servers import ProviderServer, Reply, groq_verbose


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def hour_of_audio(tmp_path_factory, ffmpeg) -> Path:
    """An hour of 8 kHz audio: converting it keeps ffmpeg busy for several seconds."""
    return make_media(ffmpeg, tmp_path_factory.mktemp("long") / "hour.wav", "-f", "lavfi", "-i",
                      "sine=frequency=300:duration=3600:sample_rate=8000", "-c:a", "pcm_u8")


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_transcribe_stops_ffmpeg_removes_its_files_and_exits_at_once(tmp_path, hour_of_audio, sig,
                                                                                   code):
    server = ProviderServer([Reply(200, groq_verbose("never reached"))])
    temp = tmp_path / "tmp"
    config = tmp_path / "config.yaml"
    config.write_text(f"""
providers: [{{name: A, kind: openai, base_url: "{server.url}/v1"}}]
cache: {{backend: memory}}
audio: {{workers: 1, temp_dir: "{temp}"}}
data_dir: "{tmp_path / 'data'}"
""")
    command = cli_command()
    process = subprocess.Popen([*command, "transcribe", "--config", str(config), str(hour_of_audio)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ffmpeg = wait_for(lambda: children_of(process.pid), timeout=60, what="ffmpeg converting")
        assert any((temp / str(process.pid)).rglob("*")), "the conversion writes into the job's directory"
        began = time.monotonic()
        os.kill(process.pid, sig)
        _, err = process.communicate(timeout=10)
        took = time.monotonic() - began
    finally:
        if process.poll() is None:
            process.kill()
        server.close()
    assert process.returncode == code, err
    assert took < 3.0, f"exit took {took:.1f} s"
    assert not any(alive(pid) for pid in ffmpeg), "ffmpeg was left running"
    assert not (temp / str(process.pid)).exists(), "temporary audio was left behind"
    assert "Traceback" not in err and "interrupted" in err
    assert not server.received
