"""Faults on purpose, for ``transhades simulate``: an actor that crashes while handling a message (workers on
a task, the dispatcher on a job's message, the bot on an update or a job event)."""

from __future__ import annotations

import random
import threading
from collections import Counter


class ChaosCrash(RuntimeError):
    """Not a TranshadesError: the actor crashes and supervision takes over, as with any bug."""


class Faults:
    def __init__(self, crash_rate: float = 0.0, seed: int = 0) -> None:
        self.crash_rate = crash_rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.crashes = 0
        self.by_actor: Counter[str] = Counter()

    def maybe_crash(self, actor: str) -> None:
        if not self.crash_rate:
            return
        with self.lock:
            crash = self.rng.random() < self.crash_rate
            self.crashes += crash
            if crash:
                self.by_actor[actor] += 1
        if crash:
            raise ChaosCrash(f"chaos: {actor} crashed on purpose")
