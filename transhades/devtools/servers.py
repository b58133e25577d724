"""Redis and PostgreSQL servers of one's own, on free ports and in their own folders, to stop, start and restart
on purpose (the shared ones at 6379 and 5432 are never touched): for the fault simulation and the tests.

``Missing`` says which program is not installed and how to get it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


class Missing(Exception):
    """A server program is not installed; the message says how to install it."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


class OwnRedis:
    """redis-server on a free port; ``persist`` keeps an append-only file, so a restart keeps the streams, the
    consumer groups and the lease. ``restart(wipe=True)`` brings it back empty, as a Redis without persistence
    (or a replaced machine) comes back."""

    def __init__(self, folder: Path, persist: bool = True) -> None:
        if not shutil.which("redis-server"):
            raise Missing("redis-server is not installed (apt-get install redis-server)")
        self.port, self.folder, self.persist = free_port(), Path(folder), persist
        self.process: subprocess.Popen | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=5)

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes" if self.persist else "no", "--save", ""], stdout=subprocess.DEVNULL)
        wait_until(self.up, 20, "redis-server up")

    def up(self) -> bool:
        import redis

        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def restart(self, down_seconds: float = 0.0, wipe: bool = False) -> None:
        self.stop()
        if wipe or not self.persist:
            for leftover in self.folder.iterdir():
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        time.sleep(down_seconds)
        self.start()


class OwnPostgres:
    """A PostgreSQL cluster made with initdb in a folder of its own, served by pg_ctl on a free port (trust auth,
    database ``postgres``). As root, the server runs as the ``postgres`` user, as PostgreSQL insists."""

    def __init__(self) -> None:
        found = postgres_bin()
        if found is None:
            raise Missing("initdb and pg_ctl are not installed (apt-get install postgresql)")
        self.bin = found
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="transhades-pg-"))
        self.data = self.folder / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / program), *args], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=self.folder)

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-w", "-t", "30", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def up(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.url, connect_timeout=1).close()
            return True
        except psycopg.Error:
            return False

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self, down_seconds: float = 0.0) -> None:
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.folder, ignore_errors=True)


def postgres_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    return versions[-1].parent if versions else None
