"""The cluster's parts when Redis misbehaves, against redis-servers of the tests' own that they stop and start
(with and without persistence): the lease, the bus and the relay reconnect and never wedge; poison entries are set
aside; what grows is bounded."""

from __future__ import annotations

import json
import threading
import time

import pytest
from conftest import wait_for
from servers import OwnRedis
from test_cluster_bus import done, request

from transhades.cluster.bus import FRONTS, WORKERS, JobBus
from transhades.cluster.front import Relay
from transhades.cluster.lease import Lease
from transhades.cluster.roll import FORGET_AFTER, Roll
from transhades.messages import Completed, Failed

pytestmark = [pytest.mark.slow, pytest.mark.redis]  # servers stopped and restarted: seconds each


def client_of(server: OwnRedis):
    import redis

    return redis.Redis.from_url(server.url, socket_connect_timeout=1, socket_timeout=2)


@pytest.fixture
def persistent(tmp_path):
    server = OwnRedis(tmp_path, persist=True)
    yield server
    server.stop()


@pytest.fixture
def volatile(tmp_path):
    server = OwnRedis(tmp_path, persist=False)
    yield server
    server.stop()


# ------------------------------------------------------------------------------------------------ the lease


def front_and_standby(server: OwnRedis, seconds: float):
    """A front holding and renewing the lease, and a standby waiting for it: (stop, front, lost, took)."""
    stop = threading.Event()
    front, standby = (Lease(client_of(server), "t:front", name, seconds) for name in ("front", "standby"))
    assert front.wait(stop)
    lost: list[str] = []
    front.keep(stop, lost.append)
    took = threading.Event()
    threading.Thread(target=lambda: standby.wait(stop, poll=0.1) and took.set(), daemon=True).start()
    time.sleep(0.5)
    return stop, front, lost, took


def test_the_front_keeps_its_lease_through_a_redis_outage_shorter_than_the_lease_and_no_standby_takes_it(persistent):
    stop, front, lost, took = front_and_standby(persistent, 5.0)
    try:
        persistent.restart(down_seconds=2.5)
        time.sleep(5)
        assert lost == [] and not took.is_set()
        assert front.holder_now() == "front"
    finally:
        stop.set()


def test_a_redis_that_lost_its_data_gives_the_lease_back_to_its_holder_not_to_the_standby(volatile):
    stop, front, lost, took = front_and_standby(volatile, 3.0)
    try:
        volatile.restart(down_seconds=0.5)
        wait_for(lambda: front.holder_now() == "front", timeout=5, what="the holder takes its lease again")
        time.sleep(3.5)
        assert lost == [] and not took.is_set()
    finally:
        stop.set()


def test_a_front_whose_renewals_fail_for_a_whole_lease_gives_it_up_and_says_why(persistent):
    stop = threading.Event()
    front = Lease(client_of(persistent), "t:front", "front", 1.5)
    assert front.wait(stop)
    lost: list[str] = []
    front.keep(stop, lost.append)
    persistent.stop()
    try:
        wait_for(lambda: lost, timeout=5, what="the lease given up")
        assert "ran out while Redis was unreachable" in lost[0]
    finally:
        stop.set()
        persistent.start()


def test_a_front_paused_past_its_lease_loses_it_to_the_standby_and_a_released_lease_is_taken_at_once(persistent):
    stop = threading.Event()
    front, standby = (Lease(client_of(persistent), "t:front", name, 1.0) for name in ("front", "standby"))
    assert front.wait(stop)
    took = threading.Event()
    threading.Thread(target=lambda: standby.wait(stop, poll=0.05) and took.set(), daemon=True).start()
    try:
        wait_for(took.is_set, timeout=5, what="the standby takes a lease nobody renews")
        assert not front.renew(), "the old holder cannot renew the new holder's lease"
        standby.release()
        began = time.monotonic()
        assert front.wait(stop, poll=0.05) and time.monotonic() - began < 0.5, "released: taken at once"
    finally:
        stop.set()


def test_a_standby_waits_through_redis_being_away(persistent):
    stop = threading.Event()
    standby = Lease(client_of(persistent), "t:front", "standby", 1.0)
    persistent.stop()
    took = threading.Event()
    waiter = threading.Thread(target=lambda: standby.wait(stop, poll=0.1) and took.set(), daemon=True)
    waiter.start()
    time.sleep(1.0)
    assert waiter.is_alive() and not took.is_set()
    persistent.start()
    wait_for(took.is_set, timeout=5, what="the standby takes the free lease once Redis is back")
    stop.set()


# ------------------------------------------------------------------------------------------------ the bus


def test_workers_and_the_front_carry_on_when_redis_restarts_without_its_groups(volatile):
    bus = JobBus(client_of(volatile), "t", lease_seconds=5).ensure()
    epoch = bus.epoch()
    volatile.restart()
    assert bus.take("w1", 5, block_ms=50) == [], "NOGROUP: the groups are made again"
    assert bus.epoch() not in (None, epoch), "a new epoch tells the front the data was lost"
    bus.publish(request("j1"))
    [entry] = bus.take("w1", 5, block_ms=50)
    bus.finish([entry.id], done("j1"))
    assert [e for _, e in bus.events("front", block_ms=50)] == [done("j1")]


def test_publishing_is_idempotent_until_the_front_has_the_jobs_final_event(persistent):
    bus = JobBus(client_of(persistent), "t").ensure()
    assert bus.publish(request("j1")) is not None
    assert bus.publish(request("j1")) is None, "out already: not a second entry"
    [entry] = bus.take("w1", 5, block_ms=50)
    bus.finish([entry.id], done("j1"))
    [(entry_id, event)] = bus.events("front", block_ms=50)
    bus.done_with_event(entry_id, event.job_id)
    assert bus.publish(request("j1")) is not None, "answered: a resumed job may go again"


def test_an_undecodable_entry_is_dead_lettered_and_the_good_jobs_beside_it_go_on(persistent):
    redis_client = client_of(persistent)
    bus = JobBus(redis_client, "t").ensure()
    bus.publish(request("j1"))
    newer = json.loads(json.dumps({"id": "j2", "user": "7"}))
    redis_client.xadd("t:jobs", {"job": json.dumps(newer)})  # no media: a version this one cannot run
    redis_client.xadd("t:jobs", {"job": b"\xff not json"})
    future = json.loads(__import__("transhades.cluster.codec", fromlist=["x"]).dump_request(request("j3")))
    future["media"]["thumbnail"] = "new in a later version"
    future["priority"] = 3
    redis_client.xadd("t:jobs", {"job": json.dumps(future)})
    taken = bus.take("w1", 10, block_ms=50)
    assert [e.request.id for e in taken] == ["j1", "j3"], "unknown fields from a newer version are ignored"
    dead = redis_client.xrange("t:dead")
    assert len(dead) == 2 and all(b"reason" in fields and b"job" in fields for _, fields in dead)
    assert bus.stats()["jobs_pending"] == 2, "the poison entries are acknowledged"
    events = [e for _, e in bus.events("front", block_ms=50)]
    assert [e.job_id for e in events] == ["j2"] and isinstance(events[0], Failed), "its user is told"
    from transhades.telegram.texts import reason_text

    assert events[0].error.reason == "job_unreadable", "not 'the services are not answering': they are"
    assert reason_text("en", events[0].error).startswith("this bot was updated while your file waited")
    assert reason_text("id", events[0].error).startswith("bot ini diperbarui")
    redis_client.xadd("t:results", {"event": b"{broken"})
    bus.finish([taken[0].id], done("j1"))
    assert [e for _, e in bus.events("front", block_ms=50)] == [done("j1")]
    assert redis_client.xlen("t:dead") == 3 and bus.stats()["results_pending"] == 2, "j2 failed, j1 done"


def test_dead_letters_are_trimmed_and_consumers_of_gone_processes_deleted(persistent, monkeypatch):
    import transhades.cluster.bus as bus_module

    redis_client = client_of(persistent)
    monkeypatch.setattr(bus_module, "DEAD_LETTERS_KEPT", 10)
    bus = JobBus(redis_client, "t", lease_seconds=0.1).ensure()
    for n in range(300):
        redis_client.xadd("t:jobs", {"job": f"poison {n}"})
    while bus.stats()["jobs_waiting"]:
        assert bus.take("w-gone", 100, block_ms=10) == []
    assert redis_client.xlen("t:dead") < 300 // 2, "trimmed (MAXLEN ~)"
    bus.publish(request("j1"))
    bus.take("w-dead", 5, block_ms=10)  # w-dead takes a job and dies
    time.sleep(0.5)
    assert bus.tidy({"w-live"}, idle_ms=100) == 1, "w-gone went; w-dead still holds an entry"
    [entry] = bus.take("w-live", 5, block_ms=10)  # claimed after the lease
    bus.finish([entry.id], done("j1"))
    time.sleep(0.2)
    assert bus.tidy({"w-live"}, idle_ms=100) == 1
    assert [c["name"] for c in redis_client.xinfo_consumers("t:jobs", WORKERS)] == [b"w-live"]
    assert redis_client.xinfo_consumers("t:results", FRONTS) == []


def test_records_of_processes_silent_long_enough_are_deleted(persistent):
    redis_client = client_of(persistent)
    roll = Roll(redis_client, "t", "front-1", "front", stale_seconds=0.2)
    roll.announce("running", 0, 0, [])
    Roll(redis_client, "t", "worker-9", "worker", stale_seconds=0.2).announce("running", 0, 4, [])
    redis_client.hset("t:processes", "garbage", "{not json")
    time.sleep(0.2 * FORGET_AFTER + 0.1)
    roll.announce("running", 0, 0, [])
    assert [p.instance for p in roll.everyone()] == ["front-1"]
    assert redis_client.hkeys("t:processes") == [b"front-1"]


# ------------------------------------------------------------------------------------------------ the relay


def test_a_note_submitted_while_redis_is_down_is_published_when_it_is_back_and_answered_once(persistent):
    relay = Relay(JobBus(client_of(persistent), "t").ensure(), per_user_limit=1)
    heard: list = []
    persistent.stop()
    relay.submit(request("j1"), heard.append)
    relay.publish_again()  # still down: nothing lost, nothing taken
    assert relay.out == {} and list(relay.unsent) == ["j1"]
    persistent.start()
    relay.publish_again()
    assert relay.out == {"7": {"j1"}} and not relay.unsent
    relay.publish_again()
    worker = JobBus(client_of(persistent), "t")
    [entry] = worker.take("w1", 5, block_ms=50)
    assert worker.take("w1", 5, block_ms=50) == [], "published once"
    worker.finish([entry.id], done("j1"))
    for entry_id, event in relay.bus.events("front", block_ms=50):
        relay.event(event)
        relay.acknowledge(entry_id, event.job_id)
    assert heard == [done("j1")] and relay.out == {}


def test_jobs_out_when_redis_lost_its_data_are_published_again(volatile):
    relay = Relay(JobBus(client_of(volatile), "t").ensure())
    heard: list = []
    relay.submit(request("j1"), heard.append)
    relay.submit(request("j2"), heard.append)
    volatile.restart()
    relay.bus.ensure()
    relay.publish_again(lost=True)
    worker = JobBus(client_of(volatile), "t")
    taken = worker.take("w1", 5, block_ms=50)
    assert sorted(e.request.id for e in taken) == ["j1", "j2"]
    for entry in taken:
        worker.finish([entry.id], done(entry.request.id))
    for _, event in relay.bus.events("front", block_ms=50):
        relay.event(event)
    assert sorted(e.job_id for e in heard if isinstance(e, Completed)) == ["j1", "j2"]


def test_a_front_renews_its_lease_from_the_moment_it_takes_it_however_slowly_its_tree_starts(persistent):
    from transhades.cluster.roles import FrontRole
    from transhades.config import parse

    cfg = parse({"providers": [{"name": "local", "kind": "local"}],
                 "cluster": {"redis_url": persistent.url, "lease_seconds": 1, "prefix": "t"}}, {})
    role = FrontRole(cfg, client_of(persistent))
    stop = threading.Event()
    try:
        assert role.wait(stop)
        time.sleep(2.5)  # the tree "starting" for longer than two leases
        assert Lease(client_of(persistent), "t:front", "other", 1.0).holder_now() == role.instance
        assert not role.lost.is_set()
    finally:
        role.close()
    assert client_of(persistent).get("t:front") == b"released", "a clean stop hands it over at once"


def test_readyz_names_redis_out_of_memory_as_errors_not_silence(volatile):
    """A Redis that answers every write with OOM is not one that has not answered; a stopped one is."""
    import redis

    from transhades.cluster.roles import redis_trouble

    client = client_of(volatile)
    client.config_set("maxmemory", "1")
    client.config_set("maxmemory-policy", "noeviction")
    with pytest.raises(redis.exceptions.ResponseError) as refused:
        client.set("transhades:probe", "x")
    assert redis_trouble(refused.value) == ("the cluster's Redis is out of memory (command not allowed when used "
                                            "memory > 'maxmemory'.)")
    assert redis_trouble(redis.exceptions.ResponseError("NOSCRIPT No matching script")) == \
        "the cluster's Redis answers with errors (NOSCRIPT No matching script)"
    volatile.stop()
    with pytest.raises(redis.exceptions.ConnectionError) as away:
        client.set("transhades:probe", "x")
    assert redis_trouble(away.value) == "the cluster's Redis has not answered"


def test_a_front_paused_past_its_lease_is_in_doubt_before_it_runs_out_and_its_term_is_fenced_off(persistent):
    """Fencing: the paused front (nobody renews for it) is in doubt a margin before its lease can run out, and
    the standby takes over only a margin after it did; every takeover's term is higher, and Redis refuses a publish
    made under an older term in the same script as the write, so a deposed front's late publish lands nowhere."""
    import redis

    client = client_of(persistent)
    stop = threading.Event()
    front, standby = (Lease(client, "t:front", name, 1.0) for name in ("front", "standby"))
    assert front.wait(stop) and front.term >= 1 and not front.in_doubt()
    first_term, taken_at = front.term, front.renewed_at
    bus = JobBus(client, "t")
    assert bus.publish(request("j1"), front.term, front.term_key), "the holder's term publishes"
    wait_for(front.in_doubt, timeout=2, what="the unrenewed front in doubt")
    assert time.monotonic() - taken_at < 1.0, "in doubt before the lease could run out"
    began = time.monotonic()
    assert standby.wait(stop, poll=0.02)
    assert time.monotonic() - taken_at >= 1.0 + standby.margin - 0.05, "the standby waited the lease and a margin"
    assert standby.term == first_term + 1
    with pytest.raises(redis.exceptions.ResponseError, match="FENCED"):
        bus.publish(request("j2"), front.term, front.term_key)
    assert bus.publish(request("j2"), standby.term, standby.term_key), "the new front publishes"
    assert not front.renew() and front.in_doubt()
    assert time.monotonic() - began < 2.0


def test_a_front_in_doubt_takes_no_update_and_reads_no_event():
    """The receiving session leaves an update with Telegram (for the next front) while the lease is in doubt, and
    the event reader reads nothing meanwhile; both act again once the lease is renewed."""
    from transhades.app.tree import gated_hand_over
    from transhades.cluster.front import EventReader

    assert gated_hand_over(None, lambda: False, object()) is False  # the registry is never touched

    class Bus:
        reads = 0

        def epoch(self):
            return "e"

        def left_over(self, consumer):
            self.reads += 1
            return []

        def events(self, consumer, block_ms):
            self.reads += 1
            time.sleep(0.01)
            return []

    bus, doubt = Bus(), [True]
    reader = EventReader(bus, "front-1", lambda entry_id, event: None, may_act=lambda: not doubt[0]).start()
    try:
        time.sleep(0.6)
        assert bus.reads == 0, "in doubt: not one read"
        doubt[0] = False
        wait_for(lambda: bus.reads > 2, timeout=3, what="reading again")
    finally:
        reader.stop()
