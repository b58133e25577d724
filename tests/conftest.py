from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pykka
import pytest
from hypothesis import settings

# Property tests draw the same examples on every CI run (a red CI must mean a change broke something, not that
# the fuzzer got lucky); locally they explore. Cases found once are kept as explicit @example lines.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("TRANSHADES_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "explore"))

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Wait for something another thread does (an actor processing a message); fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


@pytest.fixture(autouse=True)
def _stop_stray_actors():
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=10)


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    from transhades.audio.prepare import ffmpeg_binary

    return ffmpeg_binary()


def make_media(ffmpeg: str, path: Path, *args: str) -> Path:
    """Generate test media with real ffmpeg (lavfi sources), e.g. make_media(ff, p, '-f', 'lavfi', ...)."""
    subprocess.run([ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(path)], check=True)
    return path


@pytest.fixture
def tone(ffmpeg: str, tmp_path: Path) -> Path:
    """Three seconds of a 440 Hz tone, as WAV."""
    return make_media(ffmpeg, tmp_path / "tone.wav", "-f", "lavfi", "-i", "sine=frequency=440:duration=3")


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 180, stdin: str | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    if args and args[0] == "chat" and cwd is not None and "XDG_CACHE_HOME" not in (env or {}):
        full_env["XDG_CACHE_HOME"] = str(cwd / "cache")  # a chat's cache of its own: tests do not share answers
    return subprocess.run([*cli_command(), *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout, input=stdin)


def cli_command() -> list[str]:
    """The ``transhades`` this interpreter installed (beside ``sys.executable``), never one found on PATH: from a
    virtual environment that is not activated, PATH has none, or another install's (or a version manager's shim,
    a shell script that a signal would end before Python exists)."""
    script = Path(sys.executable).parent / "transhades"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "transhades"]


def _worker_index() -> int:
    """Which pytest-xdist worker runs this process (0 without xdist)."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name[2:].isdigit() else 0


@pytest.fixture
def redis_url() -> str:
    # Each xdist worker has a database of its own (15, 14, ...): a test's clean-up of the keys it made must not
    # take the keys of a test running beside it in another worker.
    url = os.environ.get("TRANSHADES_REDIS_URL", f"redis://127.0.0.1:6379/{15 - _worker_index() % 16}")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("TRANSHADES_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis at {url} is required here (TRANSHADES_REQUIRE_REDIS=1) but unreachable: {exc}")
        pytest.skip(f"no Redis at {url}: {exc.__class__.__name__}")
    return url


@pytest.fixture
def redis_client(redis_url):
    """A client on the test database; every key a test made is gone after it (tests use their own prefixes)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    before = set(client.keys("*"))
    yield client
    for key in set(client.keys("*")) - before:
        client.delete(key)


@pytest.fixture
def postgres_url():
    """A fresh schema in the PostgreSQL at TRANSHADES_POSTGRES_URL (default: the local one, database test), gone
    after the test. Skips without a server, except where TRANSHADES_REQUIRE_POSTGRES=1 (CI)."""
    import uuid
    from urllib.parse import quote

    base = os.environ.get("TRANSHADES_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
    try:
        import psycopg

        admin = psycopg.connect(base, autocommit=True, connect_timeout=3)
    except Exception as exc:
        if os.environ.get("TRANSHADES_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL at {base} is required here (TRANSHADES_REQUIRE_POSTGRES=1) but unusable: {exc}")
        pytest.skip(f"no PostgreSQL at {base}: {exc.__class__.__name__}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in base else "?"
    yield f"{base}{joiner}options={quote(f'-csearch_path={schema}')}"
    admin.execute(f"DROP SCHEMA {schema} CASCADE")
    admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store_target(request, tmp_path):
    """Where a store lives: a SQLite file, or a PostgreSQL URL (``database_url``)."""
    if request.param == "sqlite":
        return tmp_path / "store.sqlite3"
    return request.getfixturevalue("postgres_url")
