"""CPU per voice note, end to end: every process's CPU time (user + system, with the ffmpeg children they ran) for
10 s voice notes sent through the fake Telegram to a loopback provider, for one ``transhades run`` process and for
a cluster (a front, a worker and their Redis), against the same note through ffmpeg alone, in the same run.

The cluster's own overhead is then a ratio to drive down: ``cluster_cpu_ratio`` (cluster / single process) and
``single_cpu_ratio`` (single process / bare ffmpeg). What the processes spend while idle between notes (polls,
announcements) counts too: it is real CPU a deployment pays for.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from transhades.devtools.lab import Lab, Provider, voice_note
from transhades.devtools.servers import Missing, OwnRedis, wait_until

NOTE_SECONDS = 10
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far, with its children that have ended (ffmpeg runs)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(fields[i]) for i in (11, 12, 13, 14))
    return (utime + stime + cutime + cstime) / TICKS


def bare_ffmpeg_ms(note: Path, folder: Path, repeats: int = 5) -> float:
    """The note through ffmpeg alone, as the bot converts it (16 kHz mono Opus, silences detected)."""
    from transhades.audio.prepare import conversion_args
    from transhades.config import AudioConfig

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for n in range(repeats):
        subprocess.run(conversion_args(str(note), folder / f"bare-{n}.ogg", "opus", AudioConfig().bitrate_kbps),
                       check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return spent / repeats * 1000


def _through(lab: Lab, roles: list[str], notes: list[bytes], extra_pids: list[int], user: int) -> float:
    """CPU ms per note over ``notes`` (after one warm-up note), summed over the processes started for ``roles``."""
    procs = [lab.start(role) for role in roles]
    wait_until(lambda: all("is running" in lab.output(p) for p in procs), 90, "the processes")
    warm = lab.world.post_voice(user, notes[0])
    wait_until(lambda: warm in lab.answers(), 90, "the warm-up note answered")
    pids = [p.popen.pid for p in procs] + extra_pids
    before = sum(cpu_seconds(pid) for pid in pids)
    posted = [lab.world.post_voice(user, data) for data in notes[1:]]
    wait_until(lambda: all(m in lab.answers() for m in posted), 300, "every note answered")
    spent = sum(cpu_seconds(pid) for pid in pids) - before
    for proc in procs:
        proc.expected_exit = True
        proc.popen.terminate()
        proc.popen.wait(30)
    return spent / len(posted) * 1000


def bench_cpu_per_note(notes: int = 8) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="transhades-cpu-"))
    provider = Provider(delay=0.05)
    try:
        data = [voice_note(folder / f"n{n}.ogg", NOTE_SECONDS, 250 + 11 * n) for n in range(2 * (notes + 1))]
        bare = bare_ffmpeg_ms(folder / "n0.ogg", folder)
        (folder / "single").mkdir()
        single_lab = Lab(folder / "single", provider)
        try:
            single = _through(single_lab, ["all"], data[: notes + 1], [], 801)
        finally:
            single_lab.close()
        result: dict[str, Any] = {"bare_ffmpeg_cpu_ms": round(bare, 1), "cpu_ms_per_note_single": round(single, 1),
                                  "single_cpu_ratio": round(single / bare, 2) if bare else None}
        (folder / "cluster").mkdir()
        (folder / "redis").mkdir()
        try:
            redis = OwnRedis(folder / "redis", persist=False)
        except Missing as exc:
            result["cpu_note"] = f"cluster not measured: {exc}"
            return result
        cluster_lab = Lab(folder / "cluster", provider, redis)
        try:
            assert redis.process is not None
            cluster = _through(cluster_lab, ["front", "worker"], data[notes + 1:], [redis.process.pid], 802)
        finally:
            cluster_lab.close()
            redis.stop()
        result.update(cpu_ms_per_note_cluster=round(cluster, 1), cluster_cpu_ratio=round(cluster / single, 2))
        return result
    finally:
        provider.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":  # python -m transhades.devtools.cpu
    began = time.monotonic()
    print(bench_cpu_per_note(), f"{time.monotonic() - began:.0f} s")
