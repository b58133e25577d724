"""PostgreSQL goes away and comes back: the stores wait for it and reconnect, never wedge on a dead connection; at
start, an unreachable database is one line naming the setting and exit code 3."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import run_cli
from servers import OwnPostgres

from transhades.sql import Database, DatabaseUnavailable, reachable
from transhades.telegram.settings import UserSettings

pytestmark = [pytest.mark.slow, pytest.mark.postgres]  # a server stopped and restarted


@pytest.fixture(scope="module")
def pg():
    server = OwnPostgres()
    yield server
    server.close()


def test_a_store_survives_a_postgres_restart_and_a_statement_made_while_it_was_down_waits_for_it(pg):
    db = Database(pg.url, wait_seconds=30)
    db.run("CREATE TABLE IF NOT EXISTS notes (id BIGINT PRIMARY KEY, text TEXT)")
    db.run("INSERT INTO notes VALUES (?, ?) ON CONFLICT (id) DO NOTHING", (1, "before"))
    pg.stop()
    done: list[object] = []
    writer = threading.Thread(target=lambda: done.append(
        db.run("INSERT INTO notes VALUES (?, ?) ON CONFLICT (id) DO NOTHING", (2, "while down"))))
    writer.start()
    time.sleep(3)
    assert not done, "the statement cannot have run while PostgreSQL was down"
    pg.start()
    writer.join(30)
    assert done == [1]
    with db.transaction() as tx:  # a transaction on a fresh connection too
        tx.run("INSERT INTO notes VALUES (?, ?)", (3, "after"))
    assert db.rows("SELECT id FROM notes ORDER BY id") == [(1,), (2,), (3,)]
    db.close()


def test_past_its_wait_a_statement_says_the_database_is_unreachable_and_the_store_works_once_it_is_back(pg):
    store = UserSettings(pg.url)
    store._db.wait_seconds = 1.5
    store.update(7, language="id")
    pg.stop()
    try:
        began = time.monotonic()
        with pytest.raises(DatabaseUnavailable, match="could not be reached"):
            store.get(7)
        assert time.monotonic() - began < 10
    finally:
        pg.start()
    store._db.wait_seconds = 30  # its usual wait: the pool reconnects within a few seconds of the server's return
    began = time.monotonic()
    assert store.get(7).language == "id"
    assert time.monotonic() - began < 10, "reconnected promptly, not after a long backoff"


def test_an_unreachable_database_at_start_is_one_line_naming_the_setting_and_exit_3(tmp_path, pg):
    from servers import free_port

    url = f"postgresql://someone:hunter2pass@127.0.0.1:{free_port()}/nowhere"
    assert reachable(url, timeout=2) is not None
    (tmp_path / "config.yaml").write_text(f"""
providers: [{{name: local, kind: local}}]
data_dir: "{tmp_path / 'data'}"
database_url: "{url}"
telegram: {{bot_token: "123456:{'t' * 35}", credentials: [{{name: a, api_id: 1, api_hash: "{'a' * 32}"}}]}}
http: {{port: 0}}
""")
    done = run_cli("run", "--config", str(tmp_path / "config.yaml"), cwd=tmp_path, timeout=60)
    assert done.returncode == 3, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the database at database_url"), done.stderr
    assert "hunter2pass" not in done.stderr + done.stdout and "Traceback" not in done.stderr


def test_a_chats_vocabulary_survives_a_postgres_restart_and_an_addition_made_while_it_was_down_waits(pg):
    from transhades.vocabulary.book import VocabularyBook

    book = VocabularyBook(Database(pg.url, wait_seconds=30))
    book.clear(55)
    book.add(55, 1, ("Kemendikbudristek",))
    pg.stop()
    added: list[tuple[str, ...]] = []
    writer = threading.Thread(target=lambda: added.append(book.add(55, 1, ("Sutrisno Wibowo", "Bappenas"))))
    writer.start()
    time.sleep(3)
    assert not added, "nothing can be added while PostgreSQL is down"
    pg.start()
    writer.join(30)
    assert added == [("Sutrisno Wibowo", "Bappenas")], "the addition went through, whole, once the server was back"
    assert book.terms(55) == ("Kemendikbudristek", "Sutrisno Wibowo", "Bappenas")


def test_past_its_wait_the_vocabulary_says_the_database_is_unreachable_and_loses_nothing(pg):
    from transhades.vocabulary.book import VocabularyBook

    db = Database(pg.url, wait_seconds=1.5)
    book = VocabularyBook(db)
    book.clear(56)
    book.add(56, 1, ("Jayapura",))
    pg.stop()
    try:
        with pytest.raises(DatabaseUnavailable, match="could not be reached"):
            book.add(56, 1, ("Balikpapan",))
    finally:
        pg.start()
    db.wait_seconds = 30
    assert book.terms(56) == ("Jayapura",), "the failed addition left nothing half-written"
    assert book.add(56, 1, ("Balikpapan",)) == ("Balikpapan",)
