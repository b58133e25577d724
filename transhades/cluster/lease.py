"""Exactly one active front: a lease in Redis that its holder renews and a standby waits for.

- The holder renews from the moment it takes the lease (before its tree starts, however slow that is), every
  quarter of the lease; after a failed renewal (Redis unreachable) it tries again every ``RETRY_SECONDS``, and gives
  the lease up only when it has really run out: no renewal succeeded for a whole lease, or the key names another
  holder. A renewal that finds the key gone (Redis restarted without persistence) takes it again.
- A standby takes the lease when its key is gone and the last expiry it saw has passed, or at once when the holder
  released it (a clean stop leaves ``released``). A key that vanishes before the expiry the standby saw is a Redis
  that lost its data, not a holder that died: the holder takes it back within a renewal, and the standby keeps
  waiting. Redis errors while waiting are waited through.
- Renewal, taking and release compare the holder in one Lua script, so a front that lost its lease (paused past
  it) can never renew or release the next holder's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("transhades.cluster")
RELEASED = "released"
RETRY_SECONDS = 0.25

_TAKE = """local v = redis.call('get', KEYS[1])
if v == false or v == ARGV[3] then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0"""
_RENEW = """local v = redis.call('get', KEYS[1])
if v == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end
if v == false then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0"""
_RELEASE = """if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[3], 'PX', ARGV[2]) return 1 end
return 0"""


class Lease:
    def __init__(self, client: Any, key: str, holder: str, seconds: float) -> None:
        self.redis, self.key, self.holder = client, key, holder
        self.ms = max(100, int(seconds * 1000))
        self._take = client.register_script(_TAKE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self.lost_because = ""

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it (its key gone, or released)."""
        return bool(self._take(keys=[self.key], args=[self.holder, self.ms, RELEASED]))

    def renew(self) -> bool:
        return bool(self._renew(keys=[self.key], args=[self.holder, self.ms]))

    def release(self) -> None:
        self._release(keys=[self.key], args=[self.holder, self.ms, RELEASED])

    def holder_now(self) -> str | None:
        value = self.redis.get(self.key)
        value = value.decode() if isinstance(value, bytes) else value
        return None if value == RELEASED else value

    def wait(self, stop: threading.Event, poll: float = 0.5,
             on_wait: Callable[[str | None], None] | None = None) -> bool:
        """Block until this process holds the lease (True) or ``stop`` is set (False)."""
        told, expires_at = False, 0.0
        while not stop.is_set():
            try:
                pipe = self.redis.pipeline(transaction=False)
                pipe.get(self.key)
                pipe.pttl(self.key)
                value, pttl = pipe.execute()
                value = value.decode() if isinstance(value, bytes) else value
                if value is not None and value != RELEASED:
                    expires_at = time.monotonic() + max(0, int(pttl)) / 1000
                    if not told and on_wait is not None:
                        on_wait(value)
                        told = True
                elif (value == RELEASED or time.monotonic() >= expires_at) and self.try_acquire():
                    return True
            except Exception as exc:  # Redis is away: wait through it, as the holder does
                log.debug("standby: Redis unreachable (%s); waiting", exc.__class__.__name__)
            stop.wait(poll)
        return False

    def keep(self, stop: threading.Event, on_lost: Callable[[str], None]) -> threading.Thread:
        """Renew until ``stop``; ``on_lost(why)`` when another front holds the lease or it has run out."""

        def renew() -> None:
            last_ok = time.monotonic()
            pause = self.ms / 4000
            while not stop.wait(pause):
                try:
                    held = self.renew()
                except Exception as exc:  # Redis is briefly unreachable: the lease lasts a while yet
                    if time.monotonic() - last_ok >= self.ms / 1000:
                        self._lose(on_lost, f"the lease ran out while Redis was unreachable "
                                            f"({exc.__class__.__name__})")
                        return
                    pause = RETRY_SECONDS
                    continue
                if not held:
                    self._lose(on_lost, "another front took over this front's lease")
                    return
                last_ok, pause = time.monotonic(), self.ms / 4000

        thread = threading.Thread(target=renew, name="transhades-lease", daemon=True)
        thread.start()
        return thread

    def _lose(self, on_lost: Callable[[str], None], why: str) -> None:
        self.lost_because = why
        on_lost(why)
