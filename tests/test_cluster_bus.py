"""The job bus against the real Redis: what a worker takes, finishes, hands back or leaves behind when it dies."""

from __future__ import annotations

import uuid

import pytest
from conftest import wait_for

from transhades.cluster.bus import FRONTS, WORKERS, JobBus
from transhades.cluster.codec import dump_event, load_event
from transhades.errors import RateLimited
from transhades.media import TelegramFile
from transhades.messages import Completed, Failed, JobRequest, Stage, Waiting
from transhades.transcript import Segment, Transcript

pytestmark = pytest.mark.redis


def request(job_id: str) -> JobRequest:
    media = TelegramFile(7, 11, f"fid-{job_id}", f"uniq-{job_id}", 4_000, "voice", "audio/ogg", 3.0)
    return JobRequest(job_id, "7", media, f"tg:uniq-{job_id}", "groq", "id", (("groq", "whisper-large-v3"),), "id")


def done(job_id: str) -> Completed:
    return Completed(job_id, Transcript("halo dunia", "id", 3.0, "groq", (Segment(0.0, 3.0, "halo dunia"),)), False)


@pytest.fixture
def bus(redis_client):
    def make(lease_seconds: float = 15.0, max_deliveries: int = 5) -> JobBus:
        return JobBus(redis_client, prefix, lease_seconds, max_deliveries).ensure()

    prefix = f"test-{uuid.uuid4().hex[:8]}"
    return make


def test_events_and_requests_survive_the_trip_through_json():
    assert load_event(dump_event(done("j1"))) == done("j1")
    assert load_event(dump_event(Stage("j1", "transcribing", 2, 5, 0.5))) == Stage("j1", "transcribing", 2, 5, 0.5)
    assert load_event(dump_event(Waiting("j1", 12.5, "every provider is busy"))) == \
        Waiting("j1", 12.5, "every provider is busy")
    failed = load_event(dump_event(Failed("j1", RateLimited("429 from groq", 30))))
    assert isinstance(failed, Failed) and isinstance(failed.error, RateLimited) and failed.error.retry_after == 30


def test_a_job_goes_to_one_worker_and_its_result_back_to_the_front(bus):
    front, worker = bus(), bus()
    front.publish(request("j1"))
    [entry] = worker.take("w1", count=5, block_ms=100)
    assert entry.request == request("j1")
    assert bus().take("w2", count=5, block_ms=50) == [], "a job is taken once"
    worker.report(Stage("j1", "transcribing", 1, 1, 0.5))
    worker.finish([entry.id], done("j1"))
    events = front.events("front-1", block_ms=100)
    assert [event for _, event in events] == [Stage("j1", "transcribing", 1, 1, 0.5), done("j1")]
    assert front.stats() == {"jobs_waiting": 0, "jobs_pending": 0, "results_pending": 2, "dead_letters": 0,
                             "oldest_job_seconds": 0.0}
    for entry_id, _ in events:
        front.done_with_event(entry_id)
    assert front.stats()["results_pending"] == 0
    assert front.redis.xlen(front.jobs) == 0, "a finished job leaves the stream"


def test_the_jobs_of_a_worker_that_died_are_taken_over_once_the_lease_has_passed(bus):
    front, dead, alive = bus(lease_seconds=0.3), bus(lease_seconds=0.3), bus(lease_seconds=0.3)
    for n in range(3):
        front.publish(request(f"j{n}"))
    assert len(dead.take("dead", count=3, block_ms=100)) == 3  # ... and the worker is killed here
    assert alive.take("alive", count=3, block_ms=50) == [], "not before the lease has passed"
    taken = wait_for(lambda: alive.take("alive", count=3, block_ms=50), timeout=5, what="the takeover")
    assert sorted(e.request.id for e in taken) == ["j0", "j1", "j2"] and all(e.deliveries == 2 for e in taken)
    alive.finish([e.id for e in taken], done("j0"))
    assert front.stats()["jobs_pending"] == 0


def test_a_working_worker_keeps_its_jobs(bus, redis_client):
    front, worker = bus(lease_seconds=60), bus(lease_seconds=60)
    front.publish(request("j1"))
    [entry] = worker.take("w1", count=1, block_ms=100)
    redis_client.xclaim(worker.jobs, WORKERS, "w1", 0, [entry.id], idle=50_000, justid=True)  # it looks idle ...
    worker.keep_alive("w1", [entry.id])
    [row] = redis_client.xpending_range(worker.jobs, WORKERS, entry.id, entry.id, 1)
    assert row["time_since_delivered"] < 5_000, "... until the worker says it still works on it"


def test_a_job_that_stops_every_worker_goes_to_the_dead_letters_and_its_user_is_told(bus):
    front = bus(lease_seconds=0, max_deliveries=2)
    front.publish(request("poison"))
    assert len(bus(lease_seconds=0, max_deliveries=2).take("a", 1, block_ms=100)) == 1  # a dies on it
    assert len(bus(lease_seconds=0, max_deliveries=2).take("b", 1, block_ms=50)) == 1  # b dies on it
    assert bus(lease_seconds=0, max_deliveries=2).take("c", 1, block_ms=50) == []
    assert front.stats() == {"jobs_waiting": 0, "jobs_pending": 0, "results_pending": 0, "dead_letters": 1,
                             "oldest_job_seconds": 0.0}
    [(_, event)] = front.events("front", block_ms=100)
    assert isinstance(event, Failed) and event.job_id == "poison" and "stopped every worker" in str(event.error)


def test_a_worker_that_stops_hands_its_jobs_back_for_others_at_once(bus):
    front, leaving, staying = bus(), bus(), bus()
    front.publish(request("j1"))
    [entry] = leaving.take("leaving", 1, block_ms=100)
    leaving.hand_back(entry)
    [again] = staying.take("staying", 1, block_ms=100)
    assert again.request == entry.request and again.deliveries == 1
    assert front.stats()["jobs_pending"] == 1, "only the new holder's"


def test_a_front_that_takes_over_gets_what_the_one_before_left_unacknowledged(bus, redis_client):
    worker, first, second = bus(), bus(), bus()
    worker.report(done("j1"))
    assert [e for _, e in first.events("front-a", block_ms=100)] == [done("j1")]  # ... and front-a dies
    assert second.events("front-b", block_ms=50) == [], "not a new event"
    assert [e for _, e in second.left_over("front-b")] == [done("j1")]
    assert redis_client.xpending(second.results, FRONTS)["consumers"][0]["name"] == b"front-b"


# ------------------------------------------------------------------------------- a worker's intake, the front's relay


class Dispatcher:
    """Stands in for a worker's dispatcher: keeps each job's listener; the test decides when a job ends."""

    def __init__(self) -> None:
        self.jobs: dict[str, object] = {}

    def submit(self, request, listener) -> None:
        self.jobs[request.id] = listener


def test_a_stopping_worker_finishes_what_it_can_and_hands_the_rest_back(bus):
    from transhades.cluster.worker import Intake

    front = bus()
    for n in range(3):
        front.publish(request(f"j{n}"))
    local = Dispatcher()
    intake = Intake(bus(), "w1", local.submit, capacity=2, lease_seconds=15).start()
    wait_for(lambda: len(local.jobs) == 2, what="two jobs taken (its capacity)")
    assert front.stats()["jobs_waiting"] == 1, "the third waits for another worker"
    local.jobs["j0"](Stage("j0", "transcribing", 1, 1, 0.5))
    local.jobs["j0"](done("j0"))
    wait_for(lambda: len(local.jobs) == 3 and front.stats()["jobs_pending"] == 2, what="j0 answered and j2 taken")
    assert intake.stop(drain_seconds=0.1) == 2, "j1 and j2 did not finish: both handed back"
    other = bus().take("w2", count=5, block_ms=100)
    assert sorted(e.request.id for e in other) == ["j1", "j2"]
    events = [e for _, e in front.events("front", block_ms=100)]
    assert events == [Stage("j0", "transcribing", 1, 1, 0.5), done("j0")]


def test_a_job_published_twice_runs_once_and_both_entries_are_answered(bus):
    from transhades.cluster.worker import Intake

    front = bus()
    front.publish(request("j1"))
    front.publish(request("j1"))  # a front that restarted published it again
    local = Dispatcher()
    intake = Intake(bus(), "w1", local.submit, capacity=5, lease_seconds=15).start()
    wait_for(lambda: intake.held() == 1 and front.stats()["jobs_waiting"] == 0, what="both entries taken")
    local.jobs["j1"](done("j1"))
    wait_for(lambda: intake.held() == 0, what="the job answered")
    intake.stop(0)
    assert front.stats()["jobs_pending"] == 0, "both entries acknowledged"
    assert [e for _, e in front.events("front", block_ms=100)] == [done("j1")], "one answer"


def test_the_relay_publishes_each_job_once_and_keeps_a_result_that_came_before_its_job(bus):
    from transhades.cluster.front import Relay

    relay = Relay(bus())
    heard: list = []
    relay.submit(request("j1"), heard.append)
    relay.submit(request("j1"), heard.append)  # the bot restarted and submitted it again
    assert relay.bus.stats()["jobs_waiting"] == 1
    relay.event(done("j1"))
    assert heard == [done("j1")]
    relay.event(done("j2"))  # a new front reads j2's result before its bot resumed j2
    relay.submit(request("j2"), heard.append)
    assert heard == [done("j1"), done("j2")] and relay.bus.stats()["jobs_waiting"] == 1, "answered, not published"
    relay.submit(request("j3"), heard.append)
    relay.cancel("j3")
    relay.event(done("j3"))  # the worker finished it anyway
    assert isinstance(heard[-1], Failed) and len(heard) == 3


def test_the_fronts_status_and_metrics_show_every_process_and_the_streams(bus, redis_client):
    from prometheus_client import CollectorRegistry, generate_latest

    from transhades.app.health import cluster_metrics
    from transhades.cluster.front import Relay
    from transhades.cluster.roles import cluster_status
    from transhades.cluster.roll import Roll
    from transhades.telegram.status import status_report

    relay = Relay(bus())
    prefix = relay.bus.jobs.rsplit(":", 1)[0]
    relay.roll = Roll(redis_client, prefix, "front-a", "front")
    relay.roll.announce("running", 1, 0, [{"name": "credential:API-F", "group": "credential:API-F", "state": "running"}])
    Roll(redis_client, prefix, "worker-1", "worker").announce("running", 2, 5, [
        {"name": "credential:API-1", "group": "credential:API-1", "state": "quarantined", "quarantined_for": 60},
        {"name": "provider:groq-1", "group": "provider:groq", "state": "running"}])
    relay.submit(request("j1"), lambda event: None)
    status = cluster_status(relay)
    assert [p.instance for p in status.processes] == ["front-a", "worker-1"] and status.max_active == 5
    assert status.any_usable("provider:") and status.streams.jobs_waiting == 1
    report = status_report("en", status, {"items": 3})
    assert "APIs available: 1/2" in report, "every process's Telegram connections count"
    assert "API-1@worker-1: quarantined until" in report
    assert "• worker-1 (worker): running, 2 jobs" in report
    assert "Streams: 1 waiting, 0 being worked on, 0 results unread, 0 dead letters" in report
    assert "Aliran: 1 menunggu" in status_report("id", status, {"items": 3})

    class Collector:
        def collect(self):
            return cluster_metrics(status)

    registry = CollectorRegistry()
    registry.register(Collector())
    metrics = generate_latest(registry).decode()
    assert 'transhades_stream_entries{state="waiting",stream="jobs"} 1.0' in metrics
    assert 'transhades_cluster_process_jobs{process="worker-1",role="worker",state="running"} 2.0' in metrics
    assert "transhades_front_lease_held 1.0" in metrics
    assert 0.0 <= status.streams.oldest_job_seconds < 5, "the job just published is the oldest"


def test_a_quarantine_in_one_process_holds_the_same_group_out_of_work_in_the_others():
    from transhades.cluster.roles import quarantines_to_share
    from transhades.snapshot import MemberStatus, ProcessStatus

    own = [{"name": "provider:groq-1", "group": "provider:groq", "state": "running"},
           {"name": "credential:API-1", "group": "credential:API-1", "state": "running"},
           {"name": "provider:deepgram-1", "group": "provider:deepgram", "state": "quarantined"}]
    elsewhere = ProcessStatus("worker-2", "worker", "running", members=(
        MemberStatus("provider:groq-1", "provider:groq", "quarantined", quarantined_for=42.0),
        MemberStatus("credential:API-1", "credential:API-1", "quarantined", quarantined_for=0.5),  # all but over
        MemberStatus("provider:deepgram-1", "provider:deepgram", "quarantined", quarantined_for=30.0),  # held here
        MemberStatus("provider:together-1", "provider:together", "quarantined", quarantined_for=30.0)))  # not here
    assert quarantines_to_share(own, [elsewhere]) == [("provider:groq", 42.0, "quarantined on worker-2")]


def test_the_front_holds_a_users_jobs_beyond_the_limit_whichever_workers_would_run_them(bus):
    from transhades.cluster.front import Relay
    from transhades.messages import Queued

    relay = Relay(bus(), per_user_limit=2)
    heard: dict[str, list] = {}
    for n in range(4):
        relay.submit(request(f"j{n}"), heard.setdefault(f"j{n}", []).append)  # all the same user
    assert relay.bus.stats()["jobs_waiting"] == 2
    assert heard["j2"] == [Queued("j2", 1)] and heard["j3"] == [Queued("j3", 2)]
    relay.cancel("j3")
    relay.event(done("j0"))
    assert relay.bus.stats()["jobs_waiting"] == 3, "j2 went out when j0 ended; j3 was cancelled while waiting"
    other = JobRequest("k1", "someone-else", request("k1").media)
    relay.submit(other, lambda e: None)
    assert relay.bus.stats()["jobs_waiting"] == 4, "another user is not held back"
