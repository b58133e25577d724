"""transhades: plain logic beside the actor shells in ``actors/``.

Nothing in this package starts a thread of its own except :class:`transhades.clock.SystemClock`'s timer
thread; every rule (rotation, restart policy, job state machine, cache, audio, provider clients) is a plain
object tested without actors.
"""

__version__ = "0.1.0"
