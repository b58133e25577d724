"""``transhades simulate --cluster``: a front, a standby and N workers as real ``transhades run`` processes, against
Redis and PostgreSQL servers of the simulation's own, the shared fake Telegram and a loopback provider; faults are
injected on a schedule while voice notes keep arriving, and every note's answers are counted.

Faults (``--faults``, in order, ``--gap`` seconds apart):

- ``redis-restart``: Redis stopped for ``REDIS_DOWN`` seconds and started again with its append-only file.
- ``redis-wipe``: the same, but it comes back empty (no persistence): groups, entries, lease and marks are gone.
- ``postgres-restart``: PostgreSQL (the front's journal, settings, sessions) stopped ``POSTGRES_DOWN`` s.
- ``worker-kill``: one worker killed with SIGKILL; a new one is started, as a process supervisor would.
- ``worker-stop``: one worker frozen (SIGSTOP) past the lease, then let go (SIGCONT).
- ``front-kill``: the active front killed with SIGKILL; the standby takes over and a new standby starts.
- ``front-stop``: the active front frozen (SIGSTOP) past its lease, then let go (SIGCONT): the standby has taken
  over meanwhile, and the deposed front must act no more (it wakes up with its lease in doubt: no update taken, no
  event read, its term fenced off in Redis) and stop; a new standby starts.

A process that exits by itself is counted (``process_exits``) and started again, as a Procfile platform would.
Targets: 0 lost, 0 duplicated, no process exit for outages shorter than the lease.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transhades.devtools.lab import Lab, Proc, Provider, voice_note
from transhades.devtools.servers import Missing, OwnPostgres, OwnRedis, wait_until

FAULTS = ("redis-restart", "redis-wipe", "postgres-restart", "worker-kill", "worker-stop", "front-kill", "front-stop")
REDIS_DOWN = 2.0
POSTGRES_DOWN = 15.0  # as long as the restart the issue saw wedge the front for good
USERS = (701, 702, 703, 704)
ACTIVE = re.compile(r'"message": "front \S+ is active"')  # not a standby's "standby: front X is active"


@dataclass
class ClusterOptions:
    workers: int = 3
    faults: tuple[str, ...] = FAULTS
    gap: float = 6.0  # seconds between faults (notes keep arriving throughout)
    notes_per_second: float = 2.0
    lease_seconds: float = 5.0
    provider_delay: float = 0.3  # seconds the loopback provider takes per request
    seed: int = 0
    settle_seconds: float = 90.0  # after the last fault, how long every note may take to be answered


@dataclass
class Report:
    posted: int = 0
    answered: int = 0
    lost: int = 0
    duplicated: int = 0
    refused_repeats: int = 0  # second sends the fake Telegram refused by random_id: duplicates it absorbed
    process_exits: list[str] = field(default_factory=list)
    longest_wait_s: float = 0.0
    faults: list[str] = field(default_factory=list)
    metrics: dict[str, bool] = field(default_factory=dict)
    skipped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"posted": self.posted, "answered": self.answered, "lost": self.lost, "duplicated": self.duplicated,
                "refused_repeats": self.refused_repeats,
                "process_exits": self.process_exits, "longest_wait_s": round(self.longest_wait_s, 2),
                "faults": self.faults, "metrics_scraped": self.metrics, "skipped": self.skipped}


def run(options: ClusterOptions, log: Any = None) -> Report:
    """The simulation; a report with ``skipped`` set when Redis or PostgreSQL cannot be run here."""
    folder = Path(tempfile.mkdtemp(prefix="transhades-cluster-"))
    (folder / "redis").mkdir()
    try:
        redis = OwnRedis(folder / "redis", persist=True)
    except Missing as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return Report(skipped=str(exc))
    try:
        postgres = OwnPostgres()
    except Missing as exc:
        redis.stop()
        shutil.rmtree(folder, ignore_errors=True)
        return Report(skipped=str(exc))
    provider = Provider(options.provider_delay)
    sim = _Simulation(options, folder, redis, postgres, provider, log or (lambda line: None))
    try:
        return sim.run()
    finally:
        sim.close()
        provider.close()
        redis.stop()
        postgres.close()
        if os.environ.get("TRANSHADES_SIM_KEEP"):
            print(f"simulate --cluster: logs kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


class _Simulation:
    def __init__(self, options: ClusterOptions, folder: Path, redis: OwnRedis, postgres: OwnPostgres,
                 provider: Provider, say: Any) -> None:
        self.o, self.folder, self.redis, self.postgres, self.say = options, folder, redis, postgres, say
        self.lab = Lab(folder, provider, redis, postgres, options.lease_seconds)
        self.world, self.procs = self.lab.world, self.lab.procs
        self.rng = random.Random(options.seed)
        self.report = Report()
        self.posted_at: dict[int, float] = {}
        self.answered_at: dict[int, float] = {}
        self.voice = voice_note(folder / "voice.ogg", 2)
        self.stop_posting = threading.Event()

    def start(self, role: str) -> Proc:
        return self.lab.start(role)

    def output(self, proc: Proc) -> str:
        return self.lab.output(proc)

    def active_front(self) -> Proc | None:
        fronts = [p for p in self.procs.values() if p.role == "front" and p.popen.poll() is None]
        active = [p for p in fronts if ACTIVE.search(self.output(p))]
        return active[-1] if active else None

    def workers(self) -> list[Proc]:
        return [p for p in self.procs.values() if p.role == "worker" and p.popen.poll() is None]

    def watch(self) -> None:
        """A process that exited by itself is counted and started again, as its process supervisor would."""
        for proc in list(self.procs.values()):
            code = proc.popen.poll()
            if code is None or proc.expected_exit:
                continue
            reason = [line for line in self.output(proc).splitlines() if "error" in line.lower()][-1:]
            self.report.process_exits.append(f"{proc.name} exited {code}: {(reason or [''])[0][:300]}")
            self.say(f"{proc.name} exited {code}; starting another {proc.role}")
            proc.expected_exit = True
            self.start(proc.role)

    # ------------------------------------------------------------------------------------------------ the run

    def run(self) -> Report:
        self.start("front")
        wait_until(lambda: self.active_front() is not None, 60, "the front")
        self.start("front")  # the standby
        for _ in range(self.o.workers):
            self.start("worker")
        wait_until(lambda: all("taking jobs" in self.output(w) for w in self.workers()), 90, "every worker")
        poster = threading.Thread(target=self._post, daemon=True)
        poster.start()
        for fault in self.o.faults:
            self._wait(self.o.gap)
            self.say(f"fault: {fault}")
            getattr(self, "_" + fault.replace("-", "_"))()
            self.report.faults.append(fault)
        self._wait(self.o.gap)
        self.stop_posting.set()
        poster.join()
        deadline = time.monotonic() + self.o.settle_seconds
        while time.monotonic() < deadline and len(self._answers()) < len(self.posted_at):
            self._wait(0.5)
        self._wait(2.0)  # a late duplicate would show now
        self.report.metrics = self._scrape()
        self._count()
        return self.report

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.watch()
            self._answers()
            time.sleep(min(0.25, max(0.0, end - time.monotonic())))

    def _post(self) -> None:
        pause = 1.0 / max(0.1, self.o.notes_per_second)
        n = 0
        while not self.stop_posting.is_set():
            message = self.world.post_voice(USERS[n % len(USERS)], self.voice)
            self.posted_at[message] = time.monotonic()
            n += 1
            self.stop_posting.wait(pause)

    def _answers(self) -> dict[int, int]:
        counts = self.lab.answers()
        for message in counts:
            self.answered_at.setdefault(message, time.monotonic())
        return counts

    def _count(self) -> None:
        answers = self._answers()
        posted = set(self.posted_at)
        self.report.posted = len(posted)
        self.report.answered = len(posted & set(answers))
        self.report.lost = len(posted - set(answers))
        self.report.duplicated = sum(1 for m in posted if answers.get(m, 0) > 1)
        self.report.refused_repeats = self.lab.world.refused_count()
        waits = [self.answered_at[m] - self.posted_at[m] for m in posted if m in self.answered_at]
        unanswered = [time.monotonic() - self.posted_at[m] for m in posted if m not in self.answered_at]
        self.report.longest_wait_s = max(waits + unanswered, default=0.0)

    def _scrape(self) -> dict[str, bool]:
        out = {}
        for proc in self.procs.values():
            if proc.popen.poll() is not None:
                continue
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{proc.port}/metrics", timeout=5) as response:
                    out[proc.name] = response.status == 200 and b"transhades_" in response.read()
            except OSError:
                out[proc.name] = False
        return out

    # ------------------------------------------------------------------------------------------------ faults

    def _redis_restart(self) -> None:
        self.redis.restart(down_seconds=REDIS_DOWN)

    def _redis_wipe(self) -> None:
        self.redis.restart(down_seconds=REDIS_DOWN, wipe=True)

    def _postgres_restart(self) -> None:
        self.postgres.stop()
        self._wait(POSTGRES_DOWN)
        self.postgres.start()

    def _worker_kill(self) -> None:
        victim = self.rng.choice(self.workers())
        victim.expected_exit = True
        victim.popen.send_signal(signal.SIGKILL)
        self.start("worker")

    def _worker_stop(self) -> None:
        victim = self.rng.choice(self.workers())
        victim.popen.send_signal(signal.SIGSTOP)
        self._wait(self.o.lease_seconds + 2)
        victim.popen.send_signal(signal.SIGCONT)

    def _front_kill(self) -> None:
        front = self.active_front()
        if front is None:
            return
        front.expected_exit = True
        front.popen.send_signal(signal.SIGKILL)
        wait_until(lambda: self.active_front() is not None, self.o.lease_seconds + 30, "the standby taking over")
        self.start("front")

    def _front_stop(self) -> None:
        front = self.active_front()
        if front is None:
            return
        front.expected_exit = True  # deposed, it stops by itself: that exit is the point
        front.popen.send_signal(signal.SIGSTOP)
        wait_until(lambda: any(p is not front and ACTIVE.search(self.output(p)) for p in self.procs.values()
                               if p.role == "front" and p.popen.poll() is None),
                   self.o.lease_seconds + 30, "the standby taking over from the frozen front")
        self._wait(1.0)  # notes keep arriving for the new front, and wait in Telegram for the old one
        front.popen.send_signal(signal.SIGCONT)
        wait_until(lambda: front.popen.poll() is not None, 30, "the deposed front stopping")
        self.start("front")

    def close(self) -> None:
        self.stop_posting.set()
        self.lab.close()
