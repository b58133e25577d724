"""Users' data is the running user's alone: folders transhades creates are 0700, its databases 0600, whatever
the umask, for `transcribe` (the cache in ~/.cache/transhades) and for `run` (a cache outside data_dir too)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from conftest import SAMPLES, run_cli
from provider_servers import ProviderServer, Reply, groq_verbose

from transhades.cache.stores import SqliteStore
from transhades.private import private_dir, private_file
from transhades.telegram.journal import Journal
from transhades.telegram.settings import UserSettings
from transhades.transcript import Transcript


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    previous = os.umask(0)  # the widest: everything anyone creates is world-readable unless set explicitly
    yield
    os.umask(previous)


def test_created_folders_are_0700_and_an_existing_parent_is_left_alone(tmp_path, open_umask):
    tmp_path.chmod(0o755)
    made = private_dir(tmp_path / "a" / "b")
    assert mode(tmp_path / "a") == 0o700 and mode(made) == 0o700
    assert mode(tmp_path) == 0o755


def test_every_database_and_its_side_files_are_0600(tmp_path, open_umask):
    store = SqliteStore(tmp_path / "cache" / "cache.sqlite3")
    store.put(["sha256:x"], Transcript("hi", "en", 1.0, "local"))
    settings = UserSettings(tmp_path / "data" / "users.sqlite3")
    settings.update(1, format="srt")
    journal = Journal(tmp_path / "data" / "journal.sqlite3")
    try:
        files = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert any(p.name.endswith("-wal") for p in files), "WAL files exist and are checked too"
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
        assert mode(tmp_path / "cache") == 0o700 and mode(tmp_path / "data") == 0o700
    finally:
        store.close()
        settings.close()
        journal.close()


def test_a_database_left_readable_by_an_older_version_is_narrowed(tmp_path):
    old = tmp_path / "cache.sqlite3"
    old.write_bytes(b"")
    old.chmod(0o644)
    private_file(old)
    assert mode(old) == 0o600


def test_transcribe_keeps_its_cache_private_in_the_users_cache_folder(tmp_path):
    server = ProviderServer([Reply(200, groq_verbose("Hello."))])
    home = tmp_path / "xdg"
    home.mkdir(mode=0o755)
    config = tmp_path / "config.yaml"  # the embedded default's cache location, with a loopback provider
    config.write_text(f"""
providers: [{{name: A, kind: openai, base_url: "{server.url}/v1"}}]
cache: {{backend: sqlite, path: "{home / 'transhades' / 'cache.sqlite3'}"}}
data_dir: "{home / 'transhades'}"
audio: {{temp_dir: "{tmp_path / 'tmp'}"}}
""")
    try:
        done = run_cli("transcribe", "--config", str(config), str(SAMPLES / "hello-en.ogg"), cwd=tmp_path,
                       env={"XDG_CACHE_HOME": str(home)})
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    assert mode(home / "transhades") == 0o700
    assert mode(home / "transhades" / "cache.sqlite3") == 0o600
