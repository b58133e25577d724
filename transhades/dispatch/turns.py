"""Users take turns at each kind of work. When a slot frees up, the parked task that goes next is the one of the user
with the least work out right now, then of the user served longest ago at that kind of work; each user's own tasks
keep their order. So a three-hour file cut into chunks never holds another user's short note behind all of its
chunks: the note goes as soon as the chunk being decoded is done.
"""

from __future__ import annotations

import itertools
from collections import Counter, deque
from collections.abc import Callable, Iterable

from transhades.dispatch.tasks import Task

REMEMBERED = 10_000  # (kind of work, user) pairs kept; the least recently served are dropped beyond it


class Turns:
    def __init__(self) -> None:
        self._served: dict[tuple[str, str], int] = {}
        self._clock = itertools.count()

    def served(self, queue: str, user: str) -> None:
        self._served[(queue, user)] = next(self._clock)
        if len(self._served) > REMEMBERED:
            for key in sorted(self._served, key=self._served.__getitem__)[:REMEMBERED // 2]:
                del self._served[key]

    def order(self, queue: str, waiting: deque[Task], user_of: Callable[[Task], str], out: Iterable[Task]) -> None:
        """``waiting`` reordered in place for fairness; ``out``: the tasks held by workers now."""
        if len(waiting) < 2:
            return
        busy = Counter(user_of(task) for task in out)
        keyed = sorted(enumerate(waiting), key=lambda item: (busy[user_of(item[1])],
                                                               self._served.get((queue, user_of(item[1])), -1),
                                                               item[0]))
        waiting.clear()
        waiting.extend(task for _, task in keyed)
