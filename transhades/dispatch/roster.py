"""Who works on what: the tree's members as the dispatcher sees them, the tasks each one holds (by ticket), how
many it may hold (its slots), and the tasks parked until a slot frees up. Plain bookkeeping for ``JobFlow``."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from transhades.dispatch.tasks import CREDENTIAL_PREFIX, PROVIDER_PREFIX, STEPS, Step, Task
from transhades.dispatch.turns import FairQueue, Turns
from transhades.messages import MemberView
from transhades.snapshot import MemberStatus

LIVE = ("running", "quarantined")  # states in which a member holds its tasks


@dataclass
class Member:
    name: str
    group: str
    state: str = "starting"
    quarantined_until: float | None = None
    reason: str | None = None
    load: int = 0
    slots: int = 1  # tasks it may hold at once; the rest wait in the dispatcher, not in its mailbox

    def free(self, now: float) -> bool:
        return self.usable(now) and self.load < self.slots

    def usable(self, now: float) -> bool:
        if self.state not in ("running", "quarantined"):
            return False
        return self.quarantined_until is None or now >= self.quarantined_until


class Roster:
    def __init__(self, slot_counts: dict[str, int], owner: Callable[[Task], str] = lambda task: "") -> None:
        self.slot_counts = slot_counts  # group prefix -> tasks a member may hold
        self.owner = owner  # whose a task is: users take turns at each kind of work (turns.py)
        self.turns = Turns()
        self.members: dict[str, Member] = {}
        self._groups: dict[str, list[Member]] = {}  # group -> its members; rebuilt when a member comes or goes
        self.tickets: dict[int, Task] = {}
        self.parked: dict[str, FairQueue] = {}  # tasks waiting for a free slot, per kind of work
        self._ticket_seq = itertools.count(1)

    # ----------------------------------------------------------------------------------- members

    def reset(self, views: Iterable[MemberView]) -> list[Task]:
        """The whole table anew (a dispatcher restart): loads forgotten; returns the tasks that were out."""
        self.members = {view.name: Member(view.name, view.group, view.state, view.quarantined_until, view.reason,
                                          slots=self.slots_of(view.group)) for view in views}
        self._groups = {}
        in_flight = list(self.tickets.values())
        self.tickets.clear()
        for task in in_flight:
            task.worker = task.ticket = None
        return in_flight

    def change(self, view: MemberView) -> tuple[Member, bool]:
        """One member's new state; True when it stopped holding its tasks (they are lost with it)."""
        member = self.members.get(view.name)
        if member is None:
            member = self.members[view.name] = Member(view.name, view.group, slots=self.slots_of(view.group))
            self._groups = {}
        was_live = member.state in LIVE
        member.state, member.reason = view.state, view.reason
        member.quarantined_until = view.quarantined_until
        return member, was_live and view.state not in LIVE

    def group(self, group: str) -> list[Member]:
        """Asked several times per task placed: kept per group rather than filtered from every member each time."""
        found = self._groups.get(group)
        if found is None:
            found = self._groups[group] = [m for m in self.members.values() if m.group == group]
        return found

    def least_loaded_free(self, group: str, now: float) -> Member | None:
        best: Member | None = None
        for member in self.group(group):
            if member.free(now) and (best is None or (member.load, member.name) < (best.load, best.name)):
                best = member
        return best

    def quarantine(self, group: str, until: float) -> None:
        for member in self.group(group):
            if member.quarantined_until is None or member.quarantined_until < until:
                member.quarantined_until = until

    def slots_of(self, group: str) -> int:
        for prefix, count in self.slot_counts.items():
            if group.startswith(prefix):
                return count
        return 1_000_000  # the cache answers as fast as it is asked

    # ----------------------------------------------------------------------------------- tickets

    def assign(self, task: Task, member: Member) -> int:
        ticket = next(self._ticket_seq)
        task.ticket, task.worker, task.group = ticket, member.name, member.group
        member.load += 1
        self.tickets[ticket] = task
        self.turns.served(self.queue_of(task), self.owner(task))
        return ticket

    def take(self, ticket: int) -> Task | None:
        """The task a reply is about, off its worker; None for a ticket no longer waited for."""
        task = self.tickets.pop(ticket, None)
        if task is None:
            return None
        member = self.members.get(task.worker or "")
        if member and member.load > 0:
            member.load -= 1
        task.worker_name, task.worker, task.ticket = task.worker, None, None
        return task

    def lose(self, member: Member) -> list[Task]:
        """Every task the member held (it died); they are off the books, to be placed again or failed."""
        lost = [(t, task) for t, task in self.tickets.items() if task.worker == member.name]
        for ticket, task in lost:
            del self.tickets[ticket]
            task.worker = task.ticket = None
        member.load = 0
        return [task for _, task in lost]

    # ----------------------------------------------------------------------------------- parking

    @staticmethod
    def queue_of(task: Task) -> str:
        return STEPS[task.step].queue

    def park(self, task: Task) -> None:
        queue = self.queue_of(task)
        waiting = self.parked.get(queue)
        if waiting is None:
            waiting = self.parked[queue] = FairQueue(queue, self.turns, self.owner)
        waiting.append(task)

    @staticmethod
    def queue_freed_by(group: str) -> str:
        """Which parked queue a freed slot in ``group`` serves."""
        if group.startswith(CREDENTIAL_PREFIX):
            return STEPS[Step.DOWNLOAD].queue
        if group.startswith(PROVIDER_PREFIX):
            return STEPS[Step.TRANSCRIBE].queue
        return group

    def status(self, now: float) -> dict[str, list[MemberStatus]]:
        groups: dict[str, list[MemberStatus]] = {}
        for m in self.members.values():
            until = m.quarantined_until if m.quarantined_until and m.quarantined_until > now else None
            groups.setdefault(m.group, []).append(
                MemberStatus(m.name, m.group, m.state, m.load, until and until - now, m.reason, m.usable(now)))
        return groups
