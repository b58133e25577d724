"""Exactly one active front: a lease in Redis that its holder renews and a standby waits for.

The holder renews well within ``seconds`` (every third of it); a holder that dies stops renewing and the key
expires, so a standby takes over within ``seconds`` plus one poll. Renewal and release check the holder in one
Lua script, so a front that lost its lease (paused longer than the lease) can never renew or delete the next
holder's.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class Lease:
    def __init__(self, client: Any, key: str, holder: str, seconds: float) -> None:
        self.redis, self.key, self.holder = client, key, holder
        self.ms = max(100, int(seconds * 1000))
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def try_acquire(self) -> bool:
        return bool(self.redis.set(self.key, self.holder, nx=True, px=self.ms))

    def renew(self) -> bool:
        return bool(self._renew(keys=[self.key], args=[self.holder, self.ms]))

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.holder])

    def holder_now(self) -> str | None:
        value = self.redis.get(self.key)
        return value.decode() if isinstance(value, bytes) else value

    def wait(self, stop: threading.Event, poll: float = 0.5, on_wait: Callable[[str | None], None] | None = None) -> bool:
        """Block until this process holds the lease (True) or ``stop`` is set (False)."""
        told = False
        while not stop.is_set():
            if self.try_acquire():
                return True
            if not told and on_wait is not None:
                on_wait(self.holder_now())
                told = True
            stop.wait(poll)
        return False

    def keep(self, stop: threading.Event, on_lost: Callable[[], None]) -> threading.Thread:
        """Renew every third of the lease until ``stop``; ``on_lost`` when a renewal finds another holder."""

        def renew() -> None:
            while not stop.wait(self.ms / 3000):
                try:
                    held = self.renew()
                except Exception:  # Redis is briefly unreachable: try again; the lease lasts a while yet
                    continue
                if not held:
                    on_lost()
                    return

        thread = threading.Thread(target=renew, name="transhades-lease", daemon=True)
        thread.start()
        return thread
