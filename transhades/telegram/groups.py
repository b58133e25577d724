"""Groups and channels that run themselves: a chat's own settings (``/auto``: every voice note and video note without
being asked; ``/silent``: no status messages, only the result as a reply; the chat's language and format), changed
only by the chat's admins, as Telegram says (``getChatMember``; anonymous admins post as the group; a channel post is
by its admins), and a limit per chat so one busy group cannot take every slot."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pyrogram import enums, errors, types

from transhades.providers.languages import CODES, to_code
from transhades.sql import Database
from transhades.telegram.outbox import Outbox, Outgoing
from transhades.telegram.settings import FORMATS, Prefs
from transhades.telegram.texts import language_name, say

log = logging.getLogger(__name__)
ADMIN_STATUSES = frozenset({"owner", "administrator"})
ADMINS_KNOWN_SECONDS = 60.0  # a chat member's status is asked again after this long
GROUPS = (enums.ChatType.GROUP, enums.ChatType.SUPERGROUP)
COMMANDS = frozenset({"auto", "silent", "language", "format", "speakers", "settings"})


@dataclass(frozen=True)
class ChatPrefs:
    auto: bool = False  # every voice note and video note, without a mention
    silent: bool = False  # no status messages; only the result, as a reply to the recording
    language: str | None = None  # the chat's language for detection (None: each user's own choice, or detect)
    format: str | None = None  # the chat's format (None: each user's own)
    speakers: str | None = None  # on | off | auto for the chat (None: each user's own)


class ChatSettings:
    """Each group's or channel's settings, in SQLite or PostgreSQL. A chat's settings are not a person's data:
    ``/forget`` by one member leaves them."""

    def __init__(self, db: Database) -> None:
        """``db``: the users' settings' database (SQLite file or PostgreSQL): a chat's settings live beside them."""
        self._db = db
        self._db.run("CREATE TABLE IF NOT EXISTS chat_prefs (chat_id BIGINT PRIMARY KEY, auto INTEGER NOT NULL, "
                     "silent INTEGER NOT NULL, language TEXT, format TEXT)")
        self._db.add_column("chat_prefs", "speakers", "TEXT")

    def get(self, chat_id: int) -> ChatPrefs:
        rows = self._db.rows("SELECT auto, silent, language, format, speakers FROM chat_prefs WHERE chat_id = ?",
                             (chat_id,))
        if not rows:
            return ChatPrefs()
        auto, silent, language, fmt, speakers = rows[0]
        return ChatPrefs(bool(auto), bool(silent), language, fmt, speakers)

    def update(self, chat_id: int, **changes: Any) -> ChatPrefs:
        prefs = replace(self.get(chat_id), **changes)
        self._db.run("INSERT INTO chat_prefs (chat_id, auto, silent, language, format, speakers) "
                     "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id) DO UPDATE SET auto = excluded.auto, "
                     "silent = excluded.silent, language = excluded.language, format = excluded.format, "
                     "speakers = excluded.speakers",
                     (chat_id, int(prefs.auto), int(prefs.silent), prefs.language, prefs.format, prefs.speakers))
        return prefs


def shared(message: types.Message) -> bool:
    """A group, a supergroup or a channel (not a private chat)."""
    return message.chat is not None and (message.chat.type in GROUPS or message.chat.type == enums.ChatType.CHANNEL)


def as_channel_user(message: types.Message) -> types.Message:
    """A channel post has no sender; it acts as a user whose id is the channel's (limits, settings, history)."""
    chat = message.chat
    message.from_user = types.User(id=chat.id, is_bot=False, first_name=chat.title or "channel")
    return message


class Groups:
    def __init__(self, settings: ChatSettings, outbox: Outbox, now: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.outbox = outbox
        self.now = now
        self.lookup: Callable[[int, int], str] | None = None  # (chat, user) -> member status; set by the bot actor
        self._known: dict[tuple[int, int], tuple[bool, float]] = {}

    def prefs(self, message: types.Message) -> ChatPrefs:
        return self.settings.get(message.chat.id) if shared(message) else ChatPrefs()

    def for_job(self, message: types.Message, user_prefs: Prefs) -> tuple[Prefs, bool]:
        """A user's choices with the chat's own defaults over them, and whether the chat is silent."""
        chat = self.prefs(message)
        return replace(user_prefs, language=chat.language or user_prefs.language,
                       format=chat.format or user_prefs.format, speakers=chat.speakers or user_prefs.speakers), \
            chat.silent

    def runs_itself(self, message: types.Message) -> bool:
        """A voice note or video note in a shared chat that transcribes them without being asked."""
        return shared(message) and (message.voice is not None or message.video_note is not None) and \
            self.prefs(message).auto

    def is_admin(self, message: types.Message) -> bool | None:
        """True or False as Telegram says (remembered for a minute); None when Telegram could not be asked (a
        timeout, a FloodWait, an RPC error): the change is refused now, and the user told to try again."""
        chat = message.chat
        if chat.type == enums.ChatType.CHANNEL:
            return True  # only a channel's admins can post in it
        if message.sender_chat is not None and message.sender_chat.id == chat.id:
            return True  # an anonymous admin posts as the group itself
        user_id = message.from_user.id
        known = self._known.get((chat.id, user_id))
        if known is not None and self.now() - known[1] < ADMINS_KNOWN_SECONDS:
            return known[0]
        admin = self._ask(chat.id, user_id)
        if admin is None:  # Telegram could not say: refused now, asked again next time (not remembered)
            return None
        self._known[(chat.id, user_id)] = (admin, self.now())
        return admin

    def _ask(self, chat_id: int, user_id: int) -> bool | None:
        """Telegram's answer (never joined: not an admin), or None when it could not be asked."""
        if self.lookup is None:
            return None
        try:
            return self.lookup(chat_id, user_id) in ADMIN_STATUSES
        except errors.UserNotParticipant:
            return False
        except Exception as error:  # cannot tell (RPC error, FloodWait, a timeout): refused, never granted
            log.warning("could not ask Telegram who administers chat %s: %s", chat_id, error.__class__.__name__)
            return None

    def command(self, command: str, message: types.Message, arg: str, lang: str) -> None:
        """``/auto``, ``/silent``, ``/language``, ``/format`` and ``/settings`` in a group or channel."""
        chat_id = message.chat.id
        current = self.settings.get(chat_id)
        value = arg.strip().lower()
        if command == "settings" or not value:
            self._reply(message, say(lang, "chat_settings", **_shown(current, lang)))
            return
        admin = self.is_admin(message)
        if not admin:
            self._reply(message, say(lang, "chat_admins_only" if admin is False else "admin_check_failed"))
            return
        change = _change(command, value)
        if change is None:
            self._reply(message, say(lang, "chat_settings", **_shown(current, lang)))
            return
        updated = self.settings.update(chat_id, **change)
        key, values = _told(command, updated, lang)
        self._reply(message, say(lang, key, **values))

    def _reply(self, message: types.Message, text: str) -> None:
        self.outbox.put(Outgoing("text", message.chat.id, text, reply_to=message.id))


def _change(command: str, value: str) -> dict[str, Any] | None:
    """The setting a command's argument asks for, or None when it is not one it takes."""
    switch = {"on": True, "off": False}
    if command in ("auto", "silent"):
        return {command: switch[value]} if value in switch else None
    if command == "language":
        code = None if value in ("auto", "off") else to_code(value)
        return {"language": code} if value in ("auto", "off") or code in CODES else None
    if command == "format":
        return {"format": value} if value in FORMATS else None
    if command == "speakers":
        return {"speakers": value} if value in ("on", "off", "auto") else None
    return None


def _told(command: str, prefs: ChatPrefs, lang: str) -> tuple[str, dict[str, Any]]:
    if command in ("auto", "silent"):
        return f"chat_{command}_{'on' if getattr(prefs, command) else 'off'}", {}
    return "chat_settings", _shown(prefs, lang)


def _shown(prefs: ChatPrefs, lang: str) -> dict[str, str]:
    on, off = say(lang, "word_on"), say(lang, "word_off")
    return {"auto": on if prefs.auto else off, "silent": on if prefs.silent else off,
            "language": language_name(prefs.language, lang) if prefs.language else say(lang, "auto"),
            "format": prefs.format or say(lang, "chat_format_own"),
            "speakers": say(lang, f"word_{prefs.speakers}") if prefs.speakers else say(lang, "chat_format_own")}
