"""Admission: the line of jobs waiting to start, within ``max_concurrent_jobs`` in all and ``per_user_limit`` per
user. Plain bookkeeping by job id and user; ``JobFlow`` starts what it admits."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator

from transhades.config import DispatcherConfig

QUEUE_UPDATES = 100  # waiting jobs told their new position when the line moves


class Admission:
    def __init__(self, limits: DispatcherConfig) -> None:
        self.limits = limits
        self.waiting: deque[str] = deque()  # job ids, in arrival order
        self.active = 0
        self.active_by_user: dict[str, int] = {}

    def enqueue(self, job_id: str) -> None:
        self.waiting.append(job_id)

    def position(self, job_id: str) -> int:
        """1 = next to start; 0 = not waiting."""
        for index, waiting_id in enumerate(self.waiting):
            if waiting_id == job_id:
                return index + 1
        return 0

    def admit(self, user_of: Callable[[str], str]) -> list[str]:
        """The waiting jobs that may start now, in order, skipping users at their limit; marked active."""
        admitted = []
        for job_id in list(self.waiting):
            if self.active >= self.limits.max_concurrent_jobs:
                break
            user = user_of(job_id)
            if self.active_by_user.get(user, 0) >= self.limits.per_user_limit:
                continue
            self.waiting.remove(job_id)
            self.active_by_user[user] = self.active_by_user.get(user, 0) + 1
            self.active += 1
            admitted.append(job_id)
        return admitted

    def positions(self) -> Iterator[tuple[str, int]]:
        """(job id, position) of the first waiting jobs, to tell them where they stand."""
        return ((job_id, n) for n, job_id in enumerate(itertools.islice(self.waiting, QUEUE_UPDATES), start=1))

    def leave(self, job_id: str, user: str, was_waiting: bool) -> None:
        """The job ended (or was cancelled) while waiting or while active."""
        if was_waiting:
            self.waiting.remove(job_id)
            return
        self.active -= 1
        remaining = self.active_by_user.get(user, 1) - 1
        if remaining:
            self.active_by_user[user] = remaining
        else:
            self.active_by_user.pop(user, None)
