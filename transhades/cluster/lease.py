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
- Fencing: every takeover increments the lease's ``term`` (``<key>:term``), and the front's writes to the cluster
  carry the term they were made under: Redis refuses a publish from an older term in the same script as the write
  (``bus.publish``). A holder is *in doubt* once ``margin`` short of a whole lease has passed since its last renewal
  (a pause, a slow Redis): from then on its bot takes no update and its relay reads no event, before the lease can
  run out; a standby takes over only ``margin`` after the expiry it saw. A front frozen past its lease (SIGSTOP)
  wakes up in doubt and acts no more.
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
MARGIN_FRACTION = 0.2  # of the lease: a holder in doubt stops this long before it could run out; a standby waits it

_TAKE = """local v = redis.call('get', KEYS[1])
if v == false or v == ARGV[3] then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return redis.call('incr', KEYS[2]) end
return 0"""
_RENEW = """local v = redis.call('get', KEYS[1])
if v == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end
if v == false then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('set', KEYS[2], ARGV[3], 'NX') return 1 end
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
        self.term_key = f"{key}:term"
        self.term = 0  # this holder's term, from its takeover (0: not held)
        self.renewed_at = float("-inf")  # monotonic time of the last take or renewal that succeeded
        self.margin = max(0.5, seconds * MARGIN_FRACTION)

    def try_acquire(self) -> bool:
        """Take the lease if nobody holds it (its key gone, or released); the term grows."""
        term = int(self._take(keys=[self.key, self.term_key], args=[self.holder, self.ms, RELEASED]) or 0)
        if term:
            self.term, self.renewed_at = term, time.monotonic()
        return bool(term)

    def renew(self) -> bool:
        held = bool(self._renew(keys=[self.key, self.term_key], args=[self.holder, self.ms, self.term]))
        if held:
            self.renewed_at = time.monotonic()
        return held

    def in_doubt(self) -> bool:
        """Lost, or not renewed for a whole lease less ``margin``: act on behalf of the cluster no more."""
        return bool(self.lost_because) or time.monotonic() - self.renewed_at > self.ms / 1000 - self.margin

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
                elif (value == RELEASED or time.monotonic() >= expires_at + self.margin) and self.try_acquire():
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
