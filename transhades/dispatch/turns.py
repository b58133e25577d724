"""Users take turns at each kind of work. The tasks waiting for a slot of one kind are kept in a ``FairQueue``: one
first-in-first-out line per user, and the users take turns. So a three-hour file cut into parts never holds another
user's short note behind all of its parts: the note goes as soon as the part being decoded is done.

Parking and taking a task cost O(1), as a plain queue's: a dispatcher with thousands of parked tasks stays as fast.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator

from transhades.dispatch.tasks import Task

REMEMBERED = 10_000  # (kind of work, user) pairs kept; the least recently served are dropped beyond it


class Turns:
    """When each user was last served at each kind of work."""

    def __init__(self) -> None:
        self._served: dict[tuple[str, str], int] = {}
        self._clock = itertools.count()

    def served(self, queue: str, user: str) -> None:
        self._served[(queue, user)] = next(self._clock)
        if len(self._served) > REMEMBERED:
            for key in sorted(self._served, key=self._served.__getitem__)[:REMEMBERED // 2]:
                del self._served[key]

    def last(self, queue: str, user: str) -> int:
        return self._served.get((queue, user), -1)


class FairQueue:
    """The parked tasks of one kind of work. ``append`` and ``popleft`` as a deque's; ``popleft`` by turns: a
    rotation of the users with tasks waiting, each giving its oldest task and going to the back. A user who starts
    waiting goes to the front when they were served at this kind of work longer ago than the user at the front (a
    note from someone new goes next), else to the back (someone sending note after note cannot starve a long file).
    Both are O(1)."""

    def __init__(self, queue: str, turns: Turns, owner: Callable[[Task], str]) -> None:
        self.queue, self.turns, self.owner = queue, turns, owner
        self._lines: dict[str, deque[tuple[int, Task]]] = {}  # user -> (arrival, task), oldest first
        self._rotation: deque[str] = deque()  # the users with tasks waiting, whose turn is next first
        self._arrivals = itertools.count()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Task]:
        """The waiting tasks in the order they came (for a listing; ``popleft`` takes them by turns)."""
        return iter([task for _, task in sorted((item for line in self._lines.values() for item in line),
                                                key=lambda item: item[0])])

    def append(self, task: Task) -> None:
        user = self.owner(task)
        line = self._lines.get(user)
        if line is None:
            line = self._lines[user] = deque()
            if self._rotation and self.turns.last(self.queue, user) < self.turns.last(self.queue, self._rotation[0]):
                self._rotation.appendleft(user)
            else:
                self._rotation.append(user)
        line.append((next(self._arrivals), task))
        self._count += 1

    def popleft(self) -> Task:
        if not self._count:
            raise IndexError("pop from an empty FairQueue")
        user = self._rotation[0]
        line = self._lines[user]
        _, task = line.popleft()
        if line:
            self._rotation.rotate(-1)  # this user to the back
        else:
            self._rotation.popleft()
            del self._lines[user]
        self._count -= 1
        return task
