from __future__ import annotations

import uuid

import pytest

from transhades.cache.stores import MemoryStore, RedisStore, SqliteStore
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


SPOKEN = Transcript("kata sandi zebrafinch merah", "id", 2.0, "local", (Segment(0.0, 2.0, "kata sandi zebrafinch merah"),))


def stores(tmp_path, redis_url=None):
    made = {"memory": MemoryStore(), "sqlite": SqliteStore(tmp_path / "cache.sqlite3")}
    if redis_url:
        made["redis"] = RedisStore(redis_url)
    return made


def erasure_case(store, prefix: str) -> None:
    """Ayu's note (answered to her, then to Budi from the cache) and Citra's own note."""
    shared = [f"tg:{prefix}shared", f"lang:id:tg:{prefix}shared", f"sha256:{prefix}s1"]
    store.put(shared, SPOKEN, owner="501")
    assert store.get([f"sha256:{prefix}s1"], owner="777") == SPOKEN  # Budi's forward: a hit, now his too
    store.put([f"tg:{prefix}own", f"sha256:{prefix}o1"], T2, owner="501")
    store.put([f"tg:{prefix}citra", f"sha256:{prefix}c1"], T1, owner="888")

    assert store.forget_owner("501") == 1, "only the entry nobody else received goes"
    assert store.get([f"tg:{prefix}own"]) is None and store.get([f"sha256:{prefix}o1"]) is None, "every key of it"
    assert store.get([f"lang:id:tg:{prefix}shared"]) == SPOKEN, "Budi still gets his transcript"
    assert store.forget_owner("777") == 1 and store.get(shared) is None, "the last owner takes it with them"
    assert store.get([f"tg:{prefix}citra"]) == T1 and store.forget_owner("nobody") == 0


@pytest.mark.parametrize("backend", ["memory", "sqlite"])
def test_forgetting_an_owner_erases_the_entries_only_they_received(tmp_path, backend):
    erasure_case(stores(tmp_path)[backend], "")


@pytest.mark.redis
def test_forgetting_an_owner_erases_the_entries_only_they_received_on_redis(redis_url):
    store = RedisStore(redis_url)
    erasure_case(store, uuid.uuid4().hex[:8])
    assert not [k for k in store._redis.scan_iter(match=store.PREFIX + "*owned:501")]


def test_an_erased_transcript_is_gone_from_the_sqlite_files_not_only_from_queries(tmp_path):
    store = SqliteStore(tmp_path / "cache.sqlite3")
    store.put(["tg:x", "sha256:x"], SPOKEN, owner="501")
    store.put(["tg:y", "sha256:y"], T1, owner="888")
    raw = lambda: b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())  # noqa: E731
    assert b"zebrafinch" in raw()
    assert store.forget_owner("501") == 1
    assert b"zebrafinch" not in raw(), "free pages overwritten, WAL truncated"
    assert store.get(["tg:y"]) == T1


def test_a_cache_written_before_owners_is_read_and_extended(tmp_path):
    import sqlite3

    path = tmp_path / "cache.sqlite3"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE transcripts (key TEXT PRIMARY KEY, body TEXT NOT NULL, created REAL NOT NULL)")
    old.execute("INSERT INTO transcripts VALUES ('sha256:old', ?, 0)", (__import__("json").dumps(T2.to_dict()),))
    old.commit()
    old.close()
    store = SqliteStore(path)
    assert store.get(["sha256:old"], owner="501") == T2
    store.put(["sha256:new"], T1, owner="501")
    assert store.forget_owner("501") == 1 and store.get(["sha256:old"]) == T2, "an entry with no owners is kept"


def test_a_cached_transcript_lives_keep_days_and_is_then_gone_from_the_files(tmp_path, monkeypatch):
    """cache.keep_days: past it a transcript is served no more (SQLite and memory), and SQLite's prune erases it
    from the files (the hourly prune runs at the next store)."""
    import time

    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    said = Transcript("kata rahasia okapi", "id", 1.0, "local")
    path = tmp_path / "cache.sqlite3"
    sqlite, memory = SqliteStore(path, keep_seconds=86400), MemoryStore(keep_seconds=86400)
    for store in (sqlite, memory):
        store.put(["sha256:old"], said, owner="501")
        assert store.get(["sha256:old"]) == said
    clock[0] += 86400 + 1
    for store in (sqlite, memory):
        assert store.get(["sha256:old"]) is None, "past keep_days: not served"
    clock[0] += 3600
    sqlite.put(["sha256:new"], T2)  # the hourly prune comes with a store
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert b"okapi" not in raw and sqlite.get(["sha256:new"]) == T2
    assert SqliteStore(tmp_path / "forever.sqlite3").keep_seconds == 0, "keep_days 0: until erased"


def test_a_redis_cache_entry_expires_with_keep_days(redis_url):
    store = RedisStore(redis_url, ttl_seconds=86400)
    key = f"sha256:{uuid.uuid4().hex}"
    store.put([key], T1, owner=f"user-{uuid.uuid4().hex}")  # an owner of its own: other tests count theirs
    ttl = store._redis.ttl(RedisStore.PREFIX + key)
    assert 86000 < ttl <= 86400
    assert 86000 < store._redis.ttl(f"{RedisStore.PREFIX}owners:{key}") <= 86400
    store._redis.delete(*store._redis.keys(f"{RedisStore.PREFIX}*{key[7:]}*"))
