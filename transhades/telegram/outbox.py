"""Outgoing messages, paced to Telegram's limits: about one message per second per chat, thirty per second in
all, a status message edited at most every few seconds (only its latest text is sent), and nothing at all
until the deadline after a FloodWait on sending. Nothing is dropped, and nothing is rewritten: what users said
(transcripts, translations, summaries) goes out as it is; system texts are redacted where they are made."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

PER_CHAT_SECONDS = 1.0
GLOBAL_PER_SECOND = 30
EDIT_SECONDS = 3.0


@dataclass
class Outgoing:
    kind: str  # text | edit | document | callback
    chat_id: int | None
    text: str = ""
    reply_to: int | None = None
    message_id: int | None = None  # edit target
    buttons: Any = None
    file_name: str | None = None
    data: bytes | None = None
    callback_id: str | None = None
    key: Any = None  # who wants the sent message's id (a job's status message, a journaled reply part)
    random_id: int | None = None  # Telegram's idempotency key: a second send with it is refused, not shown
    not_before: float = 0.0  # a status message waits a moment: a job done by then needs none


@dataclass
class Outbox:
    per_chat_seconds: float = PER_CHAT_SECONDS
    edit_seconds: float = EDIT_SECONDS
    per_second: int = GLOBAL_PER_SECOND
    queue: deque[Outgoing] = field(default_factory=deque)
    last_in_chat: dict[int, float] = field(default_factory=dict)
    last_edit: dict[tuple[int | None, int | None], float] = field(default_factory=dict)
    recent: deque[float] = field(default_factory=deque)
    held_until: float = 0.0

    def put(self, item: Outgoing) -> None:
        if item.kind == "edit":  # a newer text for the same message replaces the one still waiting
            for waiting in self.queue:
                if waiting.kind == "edit" and (waiting.chat_id, waiting.message_id) == (item.chat_id, item.message_id):
                    waiting.text, waiting.buttons = item.text, item.buttons
                    return
        self.queue.append(item)

    def hold(self, until: float) -> None:
        self.held_until = max(self.held_until, until)

    def due(self, now: float) -> tuple[list[Outgoing], float | None]:
        """What may go out now, and when to look again (None: nothing waits)."""
        if now < self.held_until:
            return [], self.held_until
        while self.recent and self.recent[0] <= now - 1.0:
            self.recent.popleft()
        ready: list[Outgoing] = []
        later: float | None = None
        kept: deque[Outgoing] = deque()
        for item in self.queue:
            at = self._earliest(item, now)
            if at <= now and len(self.recent) < self.per_second:
                ready.append(item)
                self._spend(item, now)
            else:
                kept.append(item)
                at = max(at, self.recent[0] + 1.0 if len(self.recent) >= self.per_second else at)
                later = at if later is None else min(later, at)
        self.queue = kept
        return ready, later

    def drop(self, key: Any) -> bool:
        """Take back a message not sent yet (a status message the job no longer needs)."""
        for item in self.queue:
            if item.key == key:
                self.queue.remove(item)
                return True
        return False

    def _earliest(self, item: Outgoing, now: float) -> float:
        if item.kind == "callback" or item.chat_id is None:
            return now
        at = max(item.not_before, self.last_in_chat.get(item.chat_id, -1e9) + self.per_chat_seconds)
        if item.kind == "edit":
            at = max(at, self.last_edit.get((item.chat_id, item.message_id), -1e9) + self.edit_seconds)
        return at

    def _spend(self, item: Outgoing, now: float) -> None:
        self.recent.append(now)
        if item.chat_id is not None and item.kind != "callback":
            self.last_in_chat[item.chat_id] = now
        if item.kind == "edit":
            self.last_edit[(item.chat_id, item.message_id)] = now

    def retry(self, item: Outgoing) -> None:
        """A send that hit FloodWait goes back to the front, in order."""
        self.queue.appendleft(item)
