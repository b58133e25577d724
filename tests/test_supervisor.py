"""The supervisor, case by case after Erlang/OTP's supervisor suite. Time is a ManualClock: no test sleeps
through a backoff or a quarantine."""

from __future__ import annotations

import random
import threading
import time
from types import SimpleNamespace
from typing import Any

import pykka
import pytest
from conftest import wait_for
from pykka._envelope import Envelope  # what ActorRef.tell puts: to pause a sender just before the put

from transhades.actors.base import ExitMonitor, SupervisedActor
from transhades.app.tree import Supervisor
from transhades.clock import ManualClock
from transhades.messages import ChildExited, QuarantineGroup, StopTree, TreeStatus
from transhades.supervision.policy import Backoff, ChildSpec, Escalation, Restart, RestartPolicy
from transhades.supervision.registry import Registry


class Probe(SupervisedActor):
    """A child that does what it is told: crash, exit normally, or be slow to stop."""

    def __init__(self, name: str, monitor: ExitMonitor, log: list, stop_delay: float = 0.0,
                 fail_setup: bool = False) -> None:
        super().__init__(name, monitor)
        self.log = log
        self.stop_delay = stop_delay
        self.fail_setup = fail_setup

    def setup(self) -> None:
        self.log.append(("start", self.name))
        if self.fail_setup:
            raise RuntimeError("cannot open the thing")

    def teardown(self) -> None:
        if self.stop_delay:
            time.sleep(self.stop_delay)

    def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("boom")
        if message == "cancelled":
            import asyncio

            raise asyncio.CancelledError("the session's loop went away")
        if message == "exit":
            self.actor_ref.stop(block=False)
        return None


class Alerts(list):
    def __call__(self, text: str) -> None:
        self.append(text)


class Harness:
    def __init__(self, specs_kwargs: list[dict], policy: RestartPolicy, **probe_kwargs: Any) -> None:
        self.clock = ManualClock()
        self.registry = Registry()
        self.log: list = []
        self.alerts = Alerts()
        self.tree_stopped: list[str] = []
        self.changes: list = []
        specs = []
        for kw in specs_kwargs:
            name = kw.pop("name")
            extra = {**probe_kwargs, **kw.pop("probe", {})}
            specs.append(ChildSpec(name, kw.pop("group", name),
                                   lambda m, n=name, e=extra: Probe.start(n, m, self.log, **e), **kw))
        harness = self

        class Listener:
            def member_changed(self, view, table):
                harness.changes.append((view.name, view.state))

        self.sup = Supervisor.start(specs, policy, self.clock, self.registry, listener=Listener(),
                                    rng=random.Random(7), on_alert=self.alerts, on_tree_stopped=self.tree_stopped.append)
        self.status()

    def status(self) -> dict[str, dict]:
        return {v["name"]: v for v in self.sup.ask(TreeStatus(), timeout=5)}

    def state(self, name: str) -> str:
        return self.status()[name]["state"]

    def starts(self, name: str) -> int:
        return sum(1 for event, who in self.log if event == "start" and who == name)

    def crash(self, name: str) -> None:
        generation_before = self.starts(name)
        self.registry.get(name).tell("crash")
        wait_for(lambda: self.state(name) in ("restarting", "failed"), what=f"{name} to be seen crashing")
        assert self.starts(name) == generation_before

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.status()  # the supervisor has handled every timer message by the time it answers


POLICY = RestartPolicy(max_restarts=3, within_seconds=60, backoff=Backoff(1.0, 8.0, 0.0))


def test_child_that_crashes_is_restarted_after_its_backoff():
    h = Harness([{"name": "a"}, {"name": "b"}], POLICY)
    h.crash("a")
    h.advance(0.99)
    assert h.state("a") == "restarting" and h.starts("a") == 1
    h.advance(0.02)
    wait_for(lambda: h.starts("a") == 2, what="restart")
    assert h.state("a") == "running"
    assert h.registry.get("a") is not None
    assert h.starts("b") == 1, "one_for_one: a sibling is never restarted"


def test_permanent_child_that_exits_normally_is_restarted():
    h = Harness([{"name": "a"}], POLICY)
    h.registry.get("a").tell("exit")
    wait_for(lambda: h.state("a") == "restarting", what="normal exit seen")
    h.advance(1.0)
    wait_for(lambda: h.starts("a") == 2, what="restart")


def test_transient_child_that_exits_normally_is_not_restarted():
    h = Harness([{"name": "a", "restart": Restart.TRANSIENT}], POLICY)
    h.registry.get("a").tell("exit")
    wait_for(lambda: h.state("a") == "stopped", what="normal exit seen")
    h.advance(100)
    assert h.starts("a") == 1
    assert h.registry.get("a") is None


def test_transient_child_that_crashes_is_restarted():
    h = Harness([{"name": "a", "restart": Restart.TRANSIENT}], POLICY)
    h.crash("a")
    h.advance(1.0)
    wait_for(lambda: h.starts("a") == 2, what="restart")


def test_temporary_child_is_never_restarted():
    h = Harness([{"name": "a", "restart": Restart.TEMPORARY}], POLICY)
    h.registry.get("a").tell("crash")
    wait_for(lambda: h.state("a") == "stopped", what="crash seen")
    h.advance(100)
    assert h.starts("a") == 1


def test_backoff_grows_and_is_capped():
    h = Harness([{"name": "a"}], RestartPolicy(max_restarts=10, within_seconds=1000, backoff=Backoff(1.0, 4.0, 0.0)))
    expected = [1.0, 2.0, 4.0, 4.0, 4.0]
    for restart, delay in enumerate(expected, start=2):
        h.crash("a")
        h.advance(delay - 0.01)
        assert h.starts("a") == restart - 1, f"restart {restart - 1} came before its {delay} s backoff"
        h.advance(0.01)
        wait_for(lambda r=restart: h.starts("a") == r, what=f"restart after {delay} s")


def test_backoff_after_thousands_of_restarts_is_the_cap_not_a_crash_of_the_supervisor():
    """Harsh chaos (20 % crashes, max_restarts 100,000) restarted a child over 1,100 times within the window:
    0.01 * 2**1100 is too large for a float, and the top supervisor died of an OverflowError."""
    backoff = Backoff(0.01, 0.05, 0.2)
    assert all(0.04 <= backoff.delay(n, random.Random(n)) <= 0.05 for n in (64, 1100, 5000, 10**6))


def test_backoff_jitter_stays_within_its_spread():
    rng = random.Random(1)
    backoff = Backoff(2.0, 30.0, 0.25)
    delays = [backoff.delay(3, rng) for _ in range(500)]
    assert min(delays) >= 6.0 and max(delays) <= 10.0
    assert max(delays) - min(delays) > 2.0, "jitter must actually spread restarts"


def test_crash_loop_escalates_and_marks_the_child_failed():
    h = Harness([{"name": "a"}, {"name": "b"}], POLICY)
    for _ in range(3):
        h.crash("a")
        h.advance(10)
    h.crash("a")  # the fourth crash within 60 s: more than max_restarts=3
    assert h.state("a") == "failed"
    assert h.alerts and "a restarted 3 times" in h.alerts[0]
    h.advance(1000)
    assert h.starts("a") == 4, "a failed child is not restarted again"
    assert h.state("b") == "running", "mark_failed leaves the rest of the tree running"


def test_crash_loop_with_stop_tree_escalation_stops_every_child():
    h = Harness([{"name": "a", "escalation": Escalation.STOP_TREE}, {"name": "b"}], POLICY)
    for _ in range(3):
        h.crash("a")
        h.advance(10)
    h.registry.get("a").tell("crash")
    wait_for(lambda: h.tree_stopped, what="the tree to stop")
    assert "a failed" in h.tree_stopped[0]
    wait_for(lambda: not h.sup.is_alive(), what="the supervisor to stop")
    assert h.registry.get("b") is None


def test_restarts_outside_the_window_do_not_count():
    h = Harness([{"name": "a"}], POLICY)
    for _ in range(3):
        h.crash("a")
        h.advance(10)
    h.advance(61)  # every earlier restart is now older than within_seconds
    h.crash("a")
    assert h.state("a") == "restarting"
    h.advance(1.0)  # and the backoff starts from its minimum again
    wait_for(lambda: h.starts("a") == 5, what="restart with a reset backoff")


def test_child_that_fails_in_setup_is_restarted_like_a_crash():
    h = Harness([{"name": "a", "probe": {"fail_setup": True}}],
                RestartPolicy(max_restarts=2, within_seconds=60, backoff=Backoff(1.0, 1.0, 0.0)))
    wait_for(lambda: h.state("a") == "restarting", what="setup failure seen")
    h.advance(1.0)
    wait_for(lambda: h.starts("a") == 2 and h.state("a") == "restarting", what="second failure")
    h.advance(1.0)
    wait_for(lambda: h.starts("a") == 3 and h.state("a") == "failed", what="escalation")
    assert "cannot open the thing" in h.status()["a"]["reason"]


def test_quarantine_expires_at_its_deadline_and_costs_no_restart():
    h = Harness([{"name": "g-1", "group": "g"}, {"name": "g-2", "group": "g"}, {"name": "other"}], POLICY)
    h.sup.tell(QuarantineGroup("g", 30.0, "FloodWait 30 s"))
    assert h.state("g-1") == "quarantined" and h.state("g-2") == "quarantined"
    assert h.state("other") == "running"
    h.advance(29.9)
    assert h.state("g-1") == "quarantined"
    h.advance(0.1)
    assert h.state("g-1") == "running" and h.state("g-2") == "running"
    assert h.status()["g-1"]["restarts_in_window"] == 0
    assert h.starts("g-1") == 1, "a quarantine never restarts the actor"


def test_quarantine_extended_by_a_later_deadline_keeps_the_later_one():
    h = Harness([{"name": "g-1", "group": "g"}], POLICY)
    h.sup.tell(QuarantineGroup("g", 10.0, "first"))
    h.sup.tell(QuarantineGroup("g", 50.0, "second"))
    h.status()  # both quarantines are recorded before time moves
    h.advance(10)
    assert h.state("g-1") == "quarantined"
    h.advance(40)
    assert h.state("g-1") == "running"


def test_child_restarted_during_quarantine_stays_quarantined_until_the_deadline():
    h = Harness([{"name": "g-1", "group": "g"}], POLICY)
    h.sup.tell(QuarantineGroup("g", 30.0, "rate limited"))
    assert h.state("g-1") == "quarantined"
    h.crash("g-1")
    h.advance(1.0)
    wait_for(lambda: h.starts("g-1") == 2, what="restart")
    assert h.state("g-1") == "quarantined"
    h.advance(29)
    assert h.state("g-1") == "running"


def test_stale_exit_report_from_a_replaced_incarnation_is_ignored():
    h = Harness([{"name": "a"}], POLICY)
    h.crash("a")
    h.advance(1.0)
    wait_for(lambda: h.starts("a") == 2, what="restart")
    h.sup.tell(ChildExited("a", 1, True, "late news from the first incarnation"))
    assert h.state("a") == "running"


def test_stop_tree_stops_children_in_reverse_start_order():
    order: list[str] = []
    lock = threading.Lock()

    class Recorder(Probe):
        def teardown(self) -> None:
            with lock:
                order.append(self.name)

    registry = Registry()
    specs = [ChildSpec(n, n, lambda m, n=n: Recorder.start(n, m, [])) for n in ("first", "second", "third")]
    sup = Supervisor.start(specs, POLICY, ManualClock(), registry)
    outcome = sup.ask(StopTree(), timeout=10)
    assert order == ["third", "second", "first"]
    assert set(outcome.values()) == {"stopped"}


def test_child_that_will_not_stop_in_time_is_abandoned_and_the_rest_still_stop():
    h = Harness([{"name": "quick"}, {"name": "stuck", "shutdown_seconds": 0.2, "probe": {"stop_delay": 3.0}}],
                POLICY)
    started = time.monotonic()
    outcome = h.sup.ask(StopTree(), timeout=10)
    assert time.monotonic() - started < 2.5
    assert outcome == {"stuck": "timeout", "quick": "stopped"}


def test_restart_policy_reads_the_config_section():
    from transhades.config import BackoffConfig, SupervisionConfig

    policy = RestartPolicy.from_config(SupervisionConfig(7, 30.0, BackoffConfig(0.1, 2.0, 0.5), "stop_tree"))
    assert (policy.max_restarts, policy.within_seconds, policy.escalation) == (7, 30.0, Escalation.STOP_TREE)
    assert policy.backoff == Backoff(0.1, 2.0, 0.5)


def test_duplicate_child_names_are_refused():
    spec = ChildSpec("a", "a", lambda m: None)
    with pytest.raises(ValueError):
        Supervisor([spec, spec], POLICY, ManualClock(), Registry())



def test_an_incarnation_that_dies_while_the_registry_hands_it_kept_messages_loses_none():
    """Found by the chaos run: the supervisor itself crashed when a restarted bot died during the hand-over."""
    class Ref:
        def __init__(self, dies_at: int | None = None) -> None:
            self.got: list = []
            self.dies_at = dies_at

        def tell(self, message) -> None:
            if self.dies_at is not None and len(self.got) >= self.dies_at:
                raise pykka.ActorDeadError("gone")
            self.got.append(message)

    registry = Registry(keep_for=frozenset({"bot"}))
    for message in ("a", "b", "c"):
        registry.tell("bot", message)  # kept: nobody is registered yet
    first = Ref(dies_at=1)
    registry.register("bot", first)  # must not raise
    assert first.got == ["a"]
    assert registry.tell("bot", "d"), "the dead incarnation is still registered: the message is kept"
    second = Ref()
    registry.register("bot", second)
    assert second.got == ["b", "c", "d"], "the rest, in order, go to the next incarnation"


class _Exits:
    """Stands in for the supervisor: records each ChildExited."""

    def __init__(self) -> None:
        self.exited = threading.Event()

    def tell(self, message) -> None:
        self.exited.set()


def test_a_crashed_actor_hands_the_messages_it_never_handled_to_the_next_incarnation():
    """pykka discards a crashed actor's queued tells; the dispatcher and the bot must not lose them."""
    registry = Registry(keep_for=frozenset({"dispatcher"}))
    seen: list = []
    gate = threading.Event()
    exits = _Exits()

    class Kept(SupervisedActor):
        keeper = SimpleNamespace(in_hand=None)  # the dispatcher's JobFlow in real life

        def receive(self, message):
            gate.wait(5)  # the others queue up meanwhile
            seen.append(message)
            if message == "crash":
                raise RuntimeError("a bug")

    Kept.registry = registry
    first = Kept.start("dispatcher", ExitMonitor(exits, "dispatcher", 1))
    registry.register("dispatcher", first)
    for message in ("crash", "one", "two"):
        registry.tell("dispatcher", message)
    gate.set()
    assert exits.exited.wait(5)
    registry.tell("dispatcher", "three")  # between the crash and the restart
    second = Kept.start("dispatcher", ExitMonitor(exits, "dispatcher", 2))
    registry.register("dispatcher", second)
    wait_for(lambda: len(seen) == 4, what="everything handled")
    second.stop()
    assert seen == ["crash", "one", "two", "three"]


def test_a_tell_racing_the_crash_is_handed_to_the_next_incarnation():
    """The race pykka leaves open: a sender sees the actor alive, the actor crashes, then the sender puts.
    The sender here is paused between pykka's alive-check and its put, deterministically."""
    registry = Registry(keep_for=frozenset({"dispatcher"}))
    seen: list = []
    exits = _Exits()
    checked, go = threading.Event(), threading.Event()

    class Kept(SupervisedActor):
        keeper = SimpleNamespace(in_hand=None)

        def receive(self, message):
            seen.append(message)
            if message == "crash":
                raise RuntimeError("a bug")

    class Paused:
        """An ActorRef whose tell stops after the alive-check, as a preempted thread would."""

        def __init__(self, ref) -> None:
            self.ref = ref

        def tell(self, message) -> None:
            if not self.ref.is_alive():
                raise pykka.ActorDeadError("gone")
            checked.set()
            go.wait(5)
            self.ref.actor_inbox.put(Envelope(message))

    Kept.registry = registry
    first = Kept.start("dispatcher", ExitMonitor(exits, "dispatcher", 1))
    registry.register("dispatcher", Paused(first))
    sender = threading.Thread(target=registry.tell, args=("dispatcher", "raced"))
    sender.start()
    assert checked.wait(5)
    first.tell("crash")
    wait_for(lambda: not first.is_alive(), what="the crash")
    exits.exited.wait(0.2)  # the old hand-over had reported the crash by now; this one waits for the sender
    go.set()
    sender.join(5)
    assert exits.exited.wait(5)
    second = Kept.start("dispatcher", ExitMonitor(exits, "dispatcher", 2))
    registry.register("dispatcher", second)
    wait_for(lambda: "raced" in seen, what="the raced message handled by the next incarnation")
    second.stop()
    assert seen == ["crash", "raced"]


# ------------------------------------------------------------------------ cases mutation testing asked for


def test_a_stop_budget_bounds_the_whole_stop_not_only_each_child():
    slow = {"shutdown_seconds": 5.0, "probe": {"stop_delay": 1.0}}
    h = Harness([{"name": "a", **slow}, {"name": "b", **slow}], POLICY)
    started = time.monotonic()
    outcome = h.sup.ask(StopTree(0.3), timeout=10)
    assert time.monotonic() - started < 0.9, "each child waited its own 5 s instead of sharing the 0.3 s budget"
    assert outcome == {"b": "timeout", "a": "timeout"}


def test_each_child_is_stopped_within_its_own_shutdown_time_without_a_budget():
    h = Harness([{"name": "stuck", "shutdown_seconds": 0.2, "probe": {"stop_delay": 2.0}}], POLICY)
    started = time.monotonic()
    assert h.sup.ask(StopTree(), timeout=10) == {"stuck": "timeout"}
    assert time.monotonic() - started < 1.5


def test_stopping_the_supervisor_itself_stops_its_children_and_unregisters_it():
    h = Harness([{"name": "a"}, {"name": "b"}], POLICY)
    children = [h.registry.get("a"), h.registry.get("b")]
    assert h.registry.get("supervisor") is not None
    h.sup.stop(block=True, timeout=10)
    assert not any(child.is_alive() for child in children)
    assert h.registry.get("a") is None and h.registry.get("supervisor") is None


def test_a_restarted_dispatcher_is_handed_the_whole_membership_table():
    from transhades.app.tree import DispatcherFeed
    from transhades.messages import MemberChanged, Membership, MemberView

    told: list = []

    class Recording:
        def tell(self, name, message):
            told.append((name, message))
            return True

    feed = DispatcherFeed(Recording())
    table = (MemberView("cache", "cache", "running"), MemberView("dispatcher", "dispatcher", "running"),
             MemberView("audio-1", "audio", "quarantined", 12.0))
    feed.member_changed(table[1], table)
    assert told == [("dispatcher", Membership((table[0], table[2])))], "everything but itself, as it is now"
    told.clear()
    feed.member_changed(MemberView("dispatcher", "dispatcher", "restarting"), table)
    assert told == [], "a dispatcher that is not running is told nothing"
    feed.member_changed(table[2], table)
    assert told == [("dispatcher", MemberChanged(table[2]))]


def test_a_stale_restart_timer_never_restarts_a_newer_incarnation():
    from transhades.messages import RestartDue

    h = Harness([{"name": "a"}], POLICY)
    h.crash("a")
    h.advance(1.0)
    wait_for(lambda: h.starts("a") == 2 and h.state("a") == "running", what="restart")
    h.sup.tell(RestartDue("a", 1))  # the first crash's timer, arriving late
    h.sup.tell(RestartDue("a", 2))  # the current incarnation's number, but it is running, not restarting
    h.status()
    assert h.starts("a") == 2 and h.state("a") == "running"


def test_no_restart_happens_once_the_tree_is_stopping():
    h = Harness([{"name": "a"}, {"name": "b"}], POLICY)
    h.crash("a")
    h.sup.ask(StopTree(), timeout=10)
    h.advance(100)  # the restart timer fires after the stop
    assert h.starts("a") == 1
    assert h.registry.get("a") is None
    assert {v["state"] for v in h.status().values()} == {"stopped"}


def test_a_child_whose_start_raises_is_retried_after_its_backoff():
    clock, registry, log = ManualClock(), Registry(), []
    attempts = []

    def start(monitor):
        attempts.append(monitor.generation)
        if len(attempts) == 1:
            raise RuntimeError("constructor failed")
        return Probe.start("a", monitor, log)

    sup = Supervisor.start([ChildSpec("a", "a", start)], POLICY, clock, registry)
    status = {v["name"]: v for v in sup.ask(TreeStatus(), timeout=5)}
    wait_for(lambda: {v["name"]: v for v in sup.ask(TreeStatus(), timeout=5)}["a"]["state"] == "restarting",
             what="the failed start seen as a crash")
    assert "start failed: constructor failed" in {v["name"]: v for v in sup.ask(TreeStatus(), timeout=5)}["a"]["reason"]
    clock.advance(0.99)
    sup.ask(TreeStatus(), timeout=5)
    assert attempts == [1]
    clock.advance(0.01)
    wait_for(lambda: {v["name"]: v for v in sup.ask(TreeStatus(), timeout=5)}["a"]["state"] == "running",
             what="the second start")
    assert attempts == [1, 2] and registry.get("a") is not None
    assert status  # the first answer came while the child was failing: the supervisor itself stayed up
    sup.stop()


def test_a_failed_or_stopped_child_is_never_quarantined():
    h = Harness([{"name": "g-1", "group": "g"}, {"name": "g-2", "group": "g", "restart": Restart.TEMPORARY}],
                RestartPolicy(max_restarts=0, within_seconds=60, backoff=Backoff(1.0, 1.0, 0.0)))
    h.crash("g-1")  # no restarts allowed: failed at once
    h.registry.get("g-2").tell("exit")
    wait_for(lambda: h.state("g-1") == "failed" and h.state("g-2") == "stopped", what="failed and stopped")
    h.sup.tell(QuarantineGroup("g", 30.0, "FloodWait"))
    status = h.status()
    assert (status["g-1"]["state"], status["g-2"]["state"]) == ("failed", "stopped")
    assert status["g-1"]["total_quarantines"] == 0 and status["g-1"]["quarantined_until"] is None


def test_backoff_with_jitter_never_passes_its_maximum():
    rng = random.Random(3)
    backoff = Backoff(1.0, 30.0, 0.2)
    delays = [backoff.delay(n, rng) for n in range(1, 12) for _ in range(50)]
    assert max(delays) <= 30.0 and max(delays) > 29.0
    assert min(backoff.delay(1, rng) for _ in range(200)) >= 0.8
    assert Backoff(1.0, 30.0, 1.0).delay(1, random.Random(0)) >= 0.0


def test_restart_and_quarantine_counters_count_every_one_for_the_metrics():
    h = Harness([{"name": "g-1", "group": "g"}],
                RestartPolicy(max_restarts=10, within_seconds=5, backoff=Backoff(1.0, 1.0, 0.0)))
    for n in range(1, 4):
        h.crash("g-1")
        h.advance(3.0)
        wait_for(lambda n=n: h.starts("g-1") == n + 1, what="restart")
    view = h.status()["g-1"]
    assert view["total_restarts"] == 3
    assert view["restarts_in_window"] == 2, "the first restart fell out of the 5 s window; the total keeps it"
    h.sup.tell(QuarantineGroup("g", 10.0, "first"))
    h.sup.tell(QuarantineGroup("g", 5.0, "earlier deadline: no change"))
    h.sup.tell(QuarantineGroup("g", 20.0, "later deadline"))
    view = h.status()["g-1"]
    assert view["total_quarantines"] == 2
    assert view["quarantined_until"] == pytest.approx(h.clock.now() + 20.0)


def test_a_quarantine_and_its_end_are_told_to_the_listener_and_logged_for_the_operator(caplog):
    h = Harness([{"name": "g-1", "group": "g"}], POLICY)
    with caplog.at_level("INFO", logger="transhades.supervisor"):
        h.sup.tell(QuarantineGroup("g", 30.0, "FloodWait 30 s"))
        assert h.state("g-1") == "quarantined"
        assert h.status()["g-1"]["quarantined_until"] == pytest.approx(h.clock.now() + 30.0)
        h.advance(30.0)
    assert h.changes[-2:] == [("g-1", "quarantined"), ("g-1", "running")]
    assert h.status()["g-1"]["quarantined_until"] is None
    assert "g-1 quarantined for 30.0 s: FloodWait 30 s" in caplog.text
    assert "g-1 readmitted" in caplog.text


def test_the_same_deadline_twice_is_one_quarantine():
    h = Harness([{"name": "g-1", "group": "g"}], POLICY)
    h.sup.tell(QuarantineGroup("g", 30.0, "one"))
    h.sup.tell(QuarantineGroup("g", 30.0, "the same deadline again"))
    assert h.status()["g-1"]["total_quarantines"] == 1


def test_a_restart_exactly_as_old_as_the_window_no_longer_counts():
    from transhades.supervision.policy import ChildRecord, Escalate, RestartAfter

    record = ChildRecord(ChildSpec("a", "a", lambda m: None),
                         RestartPolicy(max_restarts=1, within_seconds=60, backoff=Backoff(1.0, 1.0, 0.0)))
    rng = random.Random(0)
    assert isinstance(record.on_exit(0.0, True, rng), RestartAfter)
    assert isinstance(record.on_exit(59.999, True, rng), Escalate), "inside the window: one too many"
    record.restarts.clear()
    record.restarts.append(0.0)
    assert isinstance(record.on_exit(60.0, True, rng), RestartAfter), "at the window's edge it has fallen out"
    assert record.total_restarts == 2


def test_jitter_is_added_to_the_base_delay():
    backoff = Backoff(2.0, 30.0, 0.25)
    drawn = random.Random(11).uniform(-0.5, 0.5)  # the spread of the first delay: 2 s * 0.25
    assert backoff.delay(1, random.Random(11)) == pytest.approx(2.0 + drawn)


def test_what_the_operator_reads_in_the_log_and_the_alerts(caplog):
    h = Harness([{"name": "a"}, {"name": "t", "restart": Restart.TRANSIENT}], POLICY)
    with caplog.at_level("INFO", logger="transhades.supervisor"):
        h.crash("a")
        h.advance(1.0)
        wait_for(lambda: h.starts("a") == 2, what="restart")
        h.registry.get("a").tell("exit")
        wait_for(lambda: h.state("a") == "restarting", what="normal exit")
        h.registry.get("t").tell("exit")
        wait_for(lambda: h.state("t") == "stopped", what="transient exit")
        h.advance(2.0)
        wait_for(lambda: h.state("a") == "running", what="running again")
        h.crash("a")  # restart 3
        h.advance(4.0)
        wait_for(lambda: h.state("a") == "running", what="running again")
        h.crash("a")  # a fourth within 60 s: more than max_restarts=3
        h.sup.ask(StopTree(), timeout=10)
    lines = [r.getMessage() for r in caplog.records if r.name == "transhades.supervisor"]
    assert "a crashed (RuntimeError: boom); restart 1 in 1.00 s" in lines
    assert "a exited (normal); restart 2 in 2.00 s" in lines
    assert "t exited (normal) and is not restarted (transient)" in lines
    alert = "ALERT: a restarted 3 times within 60 s and crashed again (RuntimeError: boom); "
    assert alert + "marked failed" in lines
    assert h.alerts == [alert + "marked failed"]
    assert "tree stopped (requested)" in lines
    told = [state for name, state in h.changes if name == "a"]
    assert told[:5] == ["running", "restarting", "running", "restarting", "running"], told
    assert told[-1] == "failed" and ("t", "stopped") in h.changes


def test_a_tree_stopped_by_escalation_says_why_and_alerts(caplog):
    h = Harness([{"name": "a", "escalation": Escalation.STOP_TREE}], RestartPolicy(0, 60, Backoff(1.0, 1.0, 0.0)))
    with caplog.at_level("INFO", logger="transhades.supervisor"):
        h.registry.get("a").tell("crash")
        wait_for(lambda: h.tree_stopped, what="the tree to stop")
    alert = "ALERT: a restarted 0 times within 60 s and crashed again (RuntimeError: boom); stopping the whole tree"
    assert h.alerts == [alert]
    lines = [r.getMessage() for r in caplog.records]
    assert alert in lines and "tree stopped (a failed)" in lines
    assert h.tree_stopped == ["a failed: RuntimeError: boom"]


def test_a_supervisor_without_alert_hooks_escalates_and_stays_up():
    registry = Registry()
    sup = Supervisor.start([ChildSpec("a", "a", lambda m: Probe.start("a", m, []))],
                           RestartPolicy(0, 60, Backoff(1.0, 1.0, 0.0)), ManualClock(), registry)
    sup.ask(TreeStatus(), timeout=5)
    registry.get("a").tell("crash")
    wait_for(lambda: {v["name"]: v for v in sup.ask(TreeStatus(), timeout=5)}["a"]["state"] == "failed",
             what="escalation without hooks")
    assert sup.is_alive()
    sup.stop()


def test_the_listener_gets_whole_views_and_the_whole_table():
    seen: list = []

    class Listener:
        def member_changed(self, view, table):
            seen.append((view, table))

    clock, registry = ManualClock(), Registry()
    specs = [ChildSpec(n, "g", lambda m, n=n: Probe.start(n, m, [])) for n in ("g-1", "g-2")]
    sup = Supervisor.start(specs, POLICY, clock, registry, listener=Listener())
    sup.ask(TreeStatus(), timeout=5)
    sup.tell(QuarantineGroup("g", 10.0, "FloodWait 10 s"))
    sup.ask(TreeStatus(), timeout=5)
    view, table = seen[-1]
    assert (view.name, view.group, view.state, view.quarantined_until) == ("g-2", "g", "quarantined",
                                                                          clock.now() + 10.0)
    assert [(v.name, v.state) for v in table] == [("g-1", "quarantined"), ("g-2", "quarantined")]
    registry.get("g-1").tell("crash")
    wait_for(lambda: seen[-1][0].state == "restarting", what="the crash told")
    assert seen[-1][0].reason == "RuntimeError: boom"
    sup.stop()


def test_a_quarantine_skips_failed_members_and_still_reaches_the_rest():
    h = Harness([{"name": "g-1", "group": "g"}, {"name": "g-2", "group": "g"}],
                RestartPolicy(max_restarts=0, within_seconds=60, backoff=Backoff(1.0, 1.0, 0.0)))
    h.crash("g-1")
    wait_for(lambda: h.state("g-1") == "failed", what="g-1 failed")
    changes = len(h.changes)
    h.sup.tell(QuarantineGroup("g", 30.0, "FloodWait"))
    h.sup.tell(QuarantineGroup("g", 30.0, "the same deadline: nothing new"))
    assert h.state("g-2") == "quarantined" and h.state("g-1") == "failed"
    assert h.changes[changes:] == [("g-2", "quarantined")], "told once, for the member that can be quarantined"


def test_a_transient_child_whose_start_raises_counts_as_crashed_and_is_retried():
    clock, registry, attempts = ManualClock(), Registry(), []

    def start(monitor):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("constructor failed")
        return Probe.start("a", monitor, [])

    sup = Supervisor.start([ChildSpec("a", "a", start, restart=Restart.TRANSIENT)], POLICY, clock, registry)
    wait_for(lambda: {v["name"]: v for v in sup.ask(TreeStatus(), timeout=5)}["a"]["state"] == "restarting",
             what="a failed start is a crash, not a normal exit")
    clock.advance(1.0)
    wait_for(lambda: len(attempts) == 2, what="the retry")
    sup.stop()


def test_a_generous_stop_budget_lets_every_child_finish_stopping():
    h = Harness([{"name": "a", "probe": {"stop_delay": 0.2}}, {"name": "b", "probe": {"stop_delay": 0.2}}], POLICY)
    assert h.sup.ask(StopTree(5.0), timeout=10) == {"b": "stopped", "a": "stopped"}
    assert h.registry.get("a") is None and h.registry.get("b") is None


def test_a_child_waiting_for_its_restart_is_reported_not_running_and_the_rest_still_stop():
    h = Harness([{"name": "a"}, {"name": "b"}], POLICY)
    a = h.registry.get("a")
    h.crash("b")  # the last started is the first stopped
    assert h.sup.ask(StopTree(), timeout=10) == {"b": "not running", "a": "stopped"}
    assert not a.is_alive()


def test_an_unknown_message_is_refused_by_name_and_names_are_unique():
    h = Harness([{"name": "a"}], POLICY)
    with pytest.raises(TypeError, match="supervisor got an unknown message str"):
        h.sup.ask("hello", timeout=5)
    spec = ChildSpec("a", "a", lambda m: None)
    with pytest.raises(ValueError, match="child names must be unique"):
        Supervisor([spec, spec], POLICY, ManualClock(), Registry())


def test_short_backoffs_are_not_rounded_up():
    assert Backoff(0.1, 5.0, 0.0).delay(1, random.Random(0)) == pytest.approx(0.1)


def test_a_childs_view_names_its_group_for_status_and_metrics():
    h = Harness([{"name": "g-1", "group": "g"}], POLICY)
    assert h.status()["g-1"]["group"] == "g"


def test_a_listener_that_raises_is_logged_and_the_supervisor_goes_on(caplog):
    class Broken:
        def member_changed(self, view, table):
            raise RuntimeError("listener bug")

    registry = Registry()
    with caplog.at_level("ERROR", logger="transhades.supervisor"):
        sup = Supervisor.start([ChildSpec("a", "a", lambda m: Probe.start("a", m, []))], POLICY, ManualClock(),
                               registry, listener=Broken())
        sup.ask(TreeStatus(), timeout=5)
    assert "tree listener failed" in caplog.text and sup.is_alive()
    sup.stop()


def test_a_supervisor_that_fails_on_a_message_stops_the_tree_and_says_why_instead_of_vanishing():
    """Nobody supervises the top supervisor: a message it cannot handle (told, so pykka would end it silently)
    stops every child, raises an alert and leaves the reason the process exits with."""
    h = Harness([{"name": "a"}, {"name": "b"}], POLICY)
    children = [h.registry.get("a"), h.registry.get("b")]
    h.sup.tell(object())  # no message of the supervisor's: it raises TypeError while handling it
    wait_for(lambda: h.tree_stopped, what="the tree's reason")
    assert h.tree_stopped == ["the supervisor failed (TypeError: supervisor got an unknown message object)"]
    assert h.alerts[-1].startswith("ALERT: the supervisor failed (TypeError")
    wait_for(lambda: not any(child.is_alive() for child in children), what="the children to stop")
    assert h.registry.get("supervisor") is None and not h.sup.is_alive()


def test_a_child_interrupted_by_a_base_exception_is_restarted_and_the_rest_of_the_tree_lives():
    """pykka stops every actor of the process, at DEBUG, when a handler raises a BaseException that is no
    Exception (asyncio's CancelledError is one): a whole tree vanished that way. It is one child's crash."""
    h = Harness([{"name": "a"}, {"name": "b"}], POLICY)
    b = h.registry.get("b")
    h.registry.get("a").tell("cancelled")
    wait_for(lambda: h.state("a") == "restarting", what="a to be seen crashing")
    assert "Interrupted: CancelledError while handling str" in h.status()["a"]["reason"]
    h.advance(1.0)
    wait_for(lambda: h.state("a") == "running", what="a to be restarted")
    assert b.is_alive() and h.sup.is_alive() and not h.tree_stopped
