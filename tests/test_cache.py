from __future__ import annotations

import uuid

import pytest

from transhades.cache import MemoryStore, RedisStore, SqliteStore
from transhades.errors import ProviderUnavailable
from transhades.transcript import Segment, Transcript

T1 = Transcript("halo semua", "id", 3.5, "local", (Segment(0.0, 1.5, "halo"), Segment(1.5, 3.5, "semua")))
T2 = Transcript("second", "en", 1.0, "groq")


def test_memory_store_evicts_the_least_recently_used():
    store = MemoryStore(max_items=2)
    store.put(["sha256:a"], T1)
    store.put(["sha256:b"], T2)
    assert store.get(["sha256:a"]) == T1  # a is now the most recent
    store.put(["sha256:c"], T2)
    assert store.get(["sha256:b"]) is None and store.get(["sha256:a"]) == T1 and store.count() == 2


def test_sqlite_store_survives_reopening_and_answers_by_any_alias(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite3"
    store = SqliteStore(path)
    store.put(["sha256:aa", "tg:unique"], T1)
    store.close()
    again = SqliteStore(path)
    assert again.get(["tg:unique"]) == T1
    assert again.get(["nothing", "sha256:aa"]) == T1
    assert again.get(["nothing"]) is None
    assert again.count() == 1, "one transcript, whatever its aliases"
    mode = again._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_sqlite_store_that_cannot_open_reports_provider_unavailable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ProviderUnavailable):
        SqliteStore(blocker / "cache.sqlite3")


@pytest.mark.redis
def test_redis_store_round_trips_a_transcript(redis_url):
    store = RedisStore(redis_url, ttl_seconds=60)
    key = f"test:{uuid.uuid4().hex}"
    store.put([key, key + ":alias"], T1)
    assert RedisStore(redis_url).get([key + ":alias"]) == T1
    assert store.get(["missing:" + key]) is None
    store._redis.delete(store.PREFIX + key, store.PREFIX + key + ":alias")


def test_redis_store_that_cannot_connect_reports_provider_unavailable():
    store = RedisStore("redis://127.0.0.1:1/0")
    with pytest.raises(ProviderUnavailable):
        store.get(["k"])
