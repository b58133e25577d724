"""How often a user, and a group or channel, may ask for a job or a command: a sliding minute each."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from pyrogram import types

from transhades.telegram.route import Route
from transhades.telegram.texts import duration_words, say


class PerMinute:
    """At most ``per_minute`` of something per user in any minute (0: no limit)."""

    def __init__(self, per_minute: int, tell_once: bool = False) -> None:
        self.per_minute = per_minute
        self.tell_once = tell_once  # say it once a minute, not at every refusal (a user typing commands)
        self.recent: dict[int, deque[float]] = {}
        self.told: dict[int, float] = {}

    def wait(self, user_id: int, now: float) -> float | None:
        return wait_for_slot(self.recent.setdefault(user_id, deque()), self.per_minute, now)

    def take(self, user_id: int, now: float) -> None:
        self.recent.setdefault(user_id, deque()).append(now)

    def tell(self, user_id: int, now: float) -> bool:
        if not self.tell_once:
            return True
        if now - self.told.get(user_id, -1e9) < 60.0:
            return False
        self.told[user_id] = now
        return True


def wait_for_slot(recent: deque[float], per_minute: int, now: float) -> float | None:
    """Seconds until a user who sent ``recent`` jobs may send another (None: now; ``per_minute`` 0: no limit)."""
    while recent and recent[0] <= now - 60.0:
        recent.popleft()
    if not per_minute or len(recent) < per_minute:
        return None
    return recent[0] + 60.0 - now


class JobLimits:
    """Jobs per minute per user (the bot's admins are exempt) and per group or channel, whoever sends there."""

    def __init__(self, per_user: int, per_chat: int, admins: frozenset[int], now: Callable[[], float]) -> None:
        self.user = PerMinute(per_user)
        self.chat = PerMinute(per_chat)
        self.admins = admins
        self.now = now

    def refusal(self, message: types.Message, lang: str, silent: bool) -> tuple[bool, str | None]:
        """(refused, what to tell): a user is told when to try again; a quiet chat is not told."""
        now, user_id = self.now(), message.from_user.id
        wait = None if user_id in self.admins else self.user.wait(user_id, now)
        if wait is not None:
            return True, say(lang, "rate_limited", limit=self.user.per_minute, wait=duration_words(wait, lang))
        if message.chat is None or message.chat.id == user_id:
            return False, None
        wait = self.chat.wait(message.chat.id, now)
        if wait is None:
            return False, None
        tell = not silent and self.chat.tell(message.chat.id, now)
        return True, say(lang, "chat_limited", limit=self.chat.per_minute, wait=duration_words(wait, lang)) \
            if tell else None

    def take(self, route: Route) -> None:
        now = self.now()
        self.user.take(route.user_id, now)
        if route.chat_id != route.user_id:  # a group's or channel's share
            self.chat.take(route.chat_id, now)
