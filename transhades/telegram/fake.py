"""An in-process Telegram for the tests and ``transhades simulate``: the same :class:`Gateway` protocol, real
``pyrogram.types`` messages, the real ``pyrogram.errors`` exceptions, media served at a chosen speed, a record of
everything sent, and sessions that persist in files (a second start of a credential does not log in again)."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pyrogram import enums, errors, types

from transhades.media import TelegramFile
from transhades.telegram.gateway import CHUNK, Buttons


@dataclass
class Sent:
    kind: str  # text | edit | document | callback
    chat_id: int | None
    text: str
    message_id: int | None = None
    reply_to: int | None = None
    buttons: Buttons | None = None
    data: bytes | None = None
    file_name: str | None = None
    random_id: int | None = None
    at: float = field(default_factory=time.monotonic)


class FakeTelegram:
    """The shared world: files, chats, what was sent, and what the next calls will fail with."""

    def __init__(self, bytes_per_second: float | None = None) -> None:
        self.files: dict[str, bytes] = {}  # file_unique_id -> content
        self.file_ids: dict[str, str] = {}  # current file_id per file_unique_id
        self.expired: set[str] = set()  # file_ids whose reference has expired
        self.bytes_per_second = bytes_per_second  # per stream
        self.session_bytes_per_second: float | None = None  # per session, shared by its concurrent streams
        self._session_free: dict[str, float] = {}
        self.sent: list[Sent] = []
        self.logins: Counter[str] = Counter()
        self.downloads: Counter[str] = Counter()  # credential -> stream calls
        self.streaming: Counter[str] = Counter()  # credential -> streams open now
        self.most_streaming: Counter[str] = Counter()  # credential -> most streams open at once
        self.timeline: list[tuple[str, str, str, float]] = []  # (flood | stream, credential, file, monotonic time)
        self.flood_waits: list[tuple[str, float, int]] = []  # (credential, when, seconds) of every flood raised
        self.flood_rate = 0.0  # chance that a stream call raises FloodWait (a storm)
        self.flood_first: int | None = None  # every file's first stream call raises FloodWait(this many seconds)
        self.storm_seconds: tuple[int, ...] = (1,)
        import random

        self.rng = random.Random(0)
        self._attempted: set[str] = set()
        self.floods: dict[str, list[int]] = {}  # credential -> waits (s) its next stream calls raise
        self.send_floods: list[int] = []  # waits the next sends raise
        self.random_ids: set[int] = set()  # of every message sent with one
        self.refused_repeats = 0
        self.crash_after_send: BaseException | None = None  # raised by the next send, after it went out
        self.flood_after_chunks: dict[str, int] = {}  # credential -> raise mid-stream after N chunks
        self.members: dict[tuple[int, int], str] = {}  # (chat, user) -> owner | administrator | member | left ...
        self.member_lookups: Counter[tuple[int, int]] = Counter()  # getChatMember calls
        self.member_fails: list[Exception] = []  # the next getChatMember calls raise these, in order
        self.receiver: FakeGateway | None = None
        self.pending_updates: list[Any] = []  # Telegram keeps updates while no session receives them
        self.lock = threading.Lock()
        self._ids = itertools.count(1000)
        self.bot = types.User(id=42, is_bot=True, first_name="transhades", username="transhades_bot")

    def pace(self, session: str, size: int) -> None:
        """A session's own bandwidth: its concurrent streams share it, as one MTProto connection's would."""
        if not self.session_bytes_per_second:
            return
        with self.lock:
            start = max(time.monotonic(), self._session_free.get(session, 0.0))
            done = start + size / self.session_bytes_per_second
            self._session_free[session] = done
        time.sleep(max(0.0, done - time.monotonic()))

    # -------------------------------------------------------------------------------------- building updates

    def user(self, user_id: int, language: str = "en", name: str = "Ayu") -> types.User:
        return types.User(id=user_id, is_bot=False, first_name=name, language_code=language)

    def chat(self, chat_id: int, kind: enums.ChatType = enums.ChatType.PRIVATE, title: str | None = None) -> types.Chat:
        return types.Chat(id=chat_id, type=kind, title=title)

    def join(self, chat: types.Chat, user: types.User, status: str = "member") -> None:
        """``user`` is in ``chat`` with this status, as getChatMember will say."""
        with self.lock:
            self.members[(chat.id, user.id)] = status

    def channel_post(self, channel: types.Chat, data: bytes | None = None, text: str | None = None,
                     kind: str = "voice") -> types.Message:
        """A post in a channel: no sender, only the channel (``sender_chat``), as Telegram delivers it."""
        if data is None:
            return types.Message(id=next(self._ids), chat=channel, sender_chat=channel, text=text)
        message = self.media_message(self.bot, data, kind=kind, chat=channel)
        message.from_user, message.sender_chat = None, channel
        return message

    def media_message(self, user: types.User, data: bytes, kind: str = "voice", chat: types.Chat | None = None,
                      mime_type: str = "audio/ogg", duration: int = 5, file_name: str | None = None,
                      size: int | None = None, caption: str | None = None,
                      forward: bool = False, reply_to: types.Message | None = None,
                      unique: str | None = None) -> types.Message:
        unique = unique or f"AgAD{next(self._ids)}"
        file_id = f"fid-{unique}-1"
        with self.lock:
            self.files[unique] = data
            self.file_ids[unique] = file_id
        common = {"file_id": file_id, "file_unique_id": unique, "mime_type": mime_type,
                  "file_size": len(data) if size is None else size}
        media = {
            "voice": lambda: types.Voice(duration=duration, **common),
            "audio": lambda: types.Audio(duration=duration, file_name=file_name, **common),
            "video": lambda: types.Video(width=320, height=240, codec="h264", duration=duration, file_name=file_name,
                                         **common),
            "video_note": lambda: types.VideoNote(length=240, duration=duration, **common),
            "document": lambda: types.Document(file_name=file_name or "file.bin", **common),
        }[kind]()
        chat = chat or self.chat(user.id)
        extra: dict[str, Any] = {}
        if forward:
            extra["forward_origin"] = types.MessageOriginUser(date=None, sender_user=self.user(7, name="Budi"))
        return types.Message(id=next(self._ids), from_user=user, chat=chat, caption=caption,
                             reply_to_message=reply_to, **{kind: media}, **extra)

    def forward(self, original: types.Message, user: types.User) -> types.Message:
        """The same file forwarded by someone else: a new message, the same file_unique_id."""
        kind = next(k for k in ("voice", "audio", "video", "video_note", "document") if getattr(original, k, None))
        return types.Message(id=next(self._ids), from_user=user, chat=self.chat(user.id),
                             forward_origin=types.MessageOriginUser(date=None, sender_user=original.from_user),
                             **{kind: getattr(original, kind)})

    def text_message(self, user: types.User, text: str, chat: types.Chat | None = None,
                     reply_to: types.Message | None = None) -> types.Message:
        entities = None
        if text.startswith("/"):
            command = text.split()[0]
            entities = [types.MessageEntity(type=enums.MessageEntityType.BOT_COMMAND, offset=0, length=len(command))]
        return types.Message(id=next(self._ids), from_user=user, chat=chat or self.chat(user.id), text=text,
                             entities=entities, reply_to_message=reply_to)

    def bot_message(self, sent: Sent) -> types.Message:
        """A message the bot sent, as Telegram shows it inside a reply to it (``reply_to_message``)."""
        return types.Message(id=sent.message_id, chat=self.chat(sent.chat_id or 0), from_user=self.bot,
                             text=sent.text, reply_to_message_id=sent.reply_to)

    def callback(self, user: types.User, data: str, message_id: int, chat_id: int | None = None) -> types.CallbackQuery:
        message = types.Message(id=message_id, chat=self.chat(chat_id or user.id), from_user=self.bot)
        return types.CallbackQuery(id=str(next(self._ids)), from_user=user, chat_instance="ci", message=message,
                                   data=data)

    def deliver(self, update: Any) -> None:
        """An update arrives at the receiving session, as Telegram would push it; while none is connected,
        Telegram keeps it and hands it over when the receiving session is back."""
        with self.lock:
            receiver = self.receiver
            if receiver is None or receiver.handler is None:
                self.pending_updates.append(update)
                return
        receiver.handler(update)

    def expire(self, media: TelegramFile) -> None:
        """Make the file reference inside ``media.file_id`` expire; a refresh hands out a new one."""
        with self.lock:
            self.expired.add(media.file_id)
            number = int(self.file_ids[media.file_unique_id].rsplit("-", 1)[1]) + 1
            self.file_ids[media.file_unique_id] = f"fid-{media.file_unique_id}-{number}"

    # -------------------------------------------------------------------------------------- reading the record

    def texts_to(self, chat_id: int) -> list[str]:
        return [s.text for s in self.sent if s.chat_id == chat_id and s.kind in ("text", "edit", "document")]


class FakeGateway:
    def __init__(self, world: FakeTelegram, name: str, workdir: Path, receive_updates: bool) -> None:
        self.world = world
        self.name = name
        self.workdir = workdir
        self.receive_updates = receive_updates
        self.handler: Callable[[Any], None] | None = None
        self.started = False
        self.username = world.bot.username

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
        session = self.workdir / f"{self.name}.session"
        if not session.exists():  # ImportBotAuthorization happens only without a session
            session.write_bytes(b"fake session")
            os.chmod(session, 0o600)
            with self.world.lock:
                self.world.logins[self.name] += 1
        self.started = True
        if self.receive_updates:
            handler = self.handler
            with self.world.lock:
                self.world.receiver = self
                pending: list[Any] = []
                if handler is not None:  # without one they wait for the next session that has one
                    pending, self.world.pending_updates = self.world.pending_updates, []
            if pending and handler is not None:  # handed over in the background, as a real session does
                threading.Thread(target=lambda: [handler(u) for u in pending], daemon=True,
                                 name=f"updates-{self.name}").start()

    def stop(self) -> None:
        self.started = False
        with self.world.lock:
            if self.world.receiver is self:
                self.world.receiver = None

    def _flood(self, queue: list[int], unique: str | None = None) -> None:
        world = self.world
        with world.lock:
            wait = queue.pop(0) if queue else None
            if wait is None and unique is not None:
                if world.flood_first is not None and unique not in world._attempted:
                    wait = world.flood_first
                elif world.flood_rate and world.rng.random() < world.flood_rate:
                    wait = world.rng.choice(world.storm_seconds)
                world._attempted.add(unique)
            if wait is not None:
                world.flood_waits.append((self.name, time.monotonic(), wait))
        if wait is not None:
            raise errors.FloodWait(value=wait)

    def stream(self, media: TelegramFile, offset_chunks: int = 0, limit_chunks: int = 0) -> Iterator[bytes]:
        world = self.world
        with world.lock:
            world.downloads[self.name] += 1
            queue = world.floods.setdefault(self.name, [])
            after = world.flood_after_chunks.pop(self.name, None)
        if after is None:
            try:
                self._flood(queue, media.file_unique_id)
            except errors.Flood:
                world.timeline.append(("flood", self.name, media.file_unique_id, time.monotonic()))
                raise
        world.timeline.append(("stream", self.name, media.file_unique_id, time.monotonic()))
        if media.file_id in world.expired:
            raise errors.FileReferenceExpired()
        data = world.files.get(media.file_unique_id)
        if data is None:
            raise errors.MessageIdInvalid()
        with world.lock:
            world.streaming[self.name] += 1
            world.most_streaming[self.name] = max(world.most_streaming[self.name], world.streaming[self.name])
        try:
            end = len(data) if not limit_chunks else min(len(data), (offset_chunks + limit_chunks) * CHUNK)
            for number, start in enumerate(range(offset_chunks * CHUNK, end, CHUNK)):
                if after is not None and number == after:
                    self._flood(queue)
                block = data[start:start + CHUNK]
                if world.bytes_per_second:
                    time.sleep(len(block) / world.bytes_per_second)
                world.pace(self.name, len(block))
                yield block
            world.timeline.append(("done", self.name, media.file_unique_id, time.monotonic()))
        finally:
            with world.lock:
                world.streaming[self.name] -= 1

    def refresh(self, media: TelegramFile) -> TelegramFile:
        with self.world.lock:
            return replace(media, file_id=self.world.file_ids[media.file_unique_id])

    def _record(self, sent: Sent) -> int | None:
        self._flood(self.world.send_floods)
        with self.world.lock:
            if sent.random_id is not None:  # Telegram refuses a repeat: RANDOM_ID_DUPLICATE, which we absorb
                if sent.random_id in self.world.random_ids:
                    self.world.refused_repeats += 1
                    return None
                self.world.random_ids.add(sent.random_id)
            sent.message_id = sent.message_id or next(self.world._ids)
            self.world.sent.append(sent)
            crash, self.world.crash_after_send = self.world.crash_after_send, None
        if crash is not None:
            raise crash  # the message is out; whoever sent it dies before hearing so
        return sent.message_id

    def send_text(self, chat_id: int, text: str, reply_to: int | None = None, buttons: Buttons | None = None,
                  random_id: int | None = None) -> int | None:
        if len(text) > 4096:
            raise errors.MessageTooLong()
        return self._record(Sent("text", chat_id, text, reply_to=reply_to, buttons=buttons, random_id=random_id))

    def edit_text(self, chat_id: int, message_id: int, text: str, buttons: Buttons | None = None) -> None:
        if len(text) > 4096:
            raise errors.MessageTooLong()
        self._record(Sent("edit", chat_id, text, message_id=message_id, buttons=buttons))

    def send_document(self, chat_id: int, file_name: str, data: bytes, caption: str = "",
                      reply_to: int | None = None, random_id: int | None = None,
                      buttons: Buttons | None = None) -> int | None:
        if len(caption) > 1024:
            raise errors.MediaCaptionTooLong()
        return self._record(Sent("document", chat_id, caption, reply_to=reply_to, data=data, file_name=file_name,
                                 random_id=random_id, buttons=buttons))

    def answer_callback(self, callback_id: str, text: str | None = None) -> None:
        self._record(Sent("callback", None, text or "", message_id=None))

    def member_status(self, chat_id: int, user_id: int) -> str:
        with self.world.lock:
            self.world.member_lookups[(chat_id, user_id)] += 1
            fail = self.world.member_fails.pop(0) if self.world.member_fails else None
            status = self.world.members.get((chat_id, user_id))
        if fail is not None:
            raise fail
        if status is None:
            raise errors.UserNotParticipant()
        return status

    def on_update(self, handler: Callable[[Any], None]) -> None:
        self.handler = handler


# ------------------------------------------------------------------------------------------- across processes


class SharedTelegram(FakeTelegram):
    """The fake Telegram kept in one SQLite file, so that a test can feed updates to a real ``transhades run``
    process (``TRANSHADES_FAKE_TELEGRAM=PATH``), kill it, start it again, and read everything it sent.

    As Telegram does, it keeps an update until the receiving session has handled it (our handler returns only
    once the bot has the job in its journal), refuses a second message with the same random_id, and keeps
    files and what was sent whatever happens to the bot's process."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        import sqlite3

        self.path = Path(path)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS files (file_unique_id TEXT PRIMARY KEY, file_id TEXT NOT NULL, data BLOB);
            CREATE TABLE IF NOT EXISTS updates (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL,
                                                taken_at REAL);
            CREATE TABLE IF NOT EXISTS sent (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT, chat_id INTEGER,
                                             text TEXT, message_id INTEGER, reply_to INTEGER, random_id INTEGER UNIQUE,
                                             file_name TEXT, at REAL);
            CREATE TABLE IF NOT EXISTS ids (n INTEGER);
            CREATE TABLE IF NOT EXISTS refused (random_id INTEGER, at REAL);
        """)
        # read through to the shared file; this world writes files with SQL, never by item
        self.files = _Column(self, "data")  # type: ignore[assignment]
        self.file_ids = _Column(self, "file_id")  # type: ignore[assignment]
        self._polling: threading.Event | None = None

    def _next_id(self) -> int:
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            row = self.db.execute("SELECT n FROM ids").fetchone()
            n = (row[0] if row else 1000) + 1
            self.db.execute("DELETE FROM ids")
            self.db.execute("INSERT INTO ids VALUES (?)", (n,))
            self.db.execute("COMMIT")
        return n

    # ------------------------------------------------------------------------------------- the test's side

    def post_voice(self, user_id: int, data: bytes, duration: int = 3, language: str = "en") -> int:
        """A user sends a voice note; returns its message id."""
        number = self._next_id()
        unique = f"AgAD{number}"
        with self.lock:
            self.db.execute("INSERT INTO files VALUES (?, ?, ?)", (unique, f"fid-{unique}-1", data))
            self.db.execute("INSERT INTO updates (body) VALUES (?)", (json.dumps(
                {"message_id": number, "user_id": user_id, "language": language, "unique": unique,
                 "size": len(data), "duration": duration}),))
        return number

    def sent_rows(self) -> list[Sent]:
        with self.lock:
            rows = self.db.execute("SELECT kind, chat_id, text, message_id, reply_to, random_id, file_name, at "
                                   "FROM sent ORDER BY seq").fetchall()
        return [Sent(k, c, t or "", message_id=m, reply_to=r, random_id=rid, file_name=f, at=at)
                for k, c, t, m, r, rid, f, at in rows]

    def refused_count(self) -> int:
        """Repeats refused by random_id, by every process that shares this file."""
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM refused").fetchone()[0]

    def untaken(self) -> int:
        with self.lock:
            return self.db.execute("SELECT COUNT(*) FROM updates WHERE taken_at IS NULL").fetchone()[0]

    # ------------------------------------------------------------------------------------- the bot's side

    def _record_sent(self, sent: Sent) -> int | None:
        import sqlite3

        sent.message_id = sent.message_id or self._next_id()
        with self.lock:
            try:
                self.db.execute("INSERT INTO sent (kind, chat_id, text, message_id, reply_to, random_id, file_name, at)"
                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                (sent.kind, sent.chat_id, sent.text, sent.message_id, sent.reply_to, sent.random_id,
                                 sent.file_name, time.time()))
            except sqlite3.IntegrityError:  # RANDOM_ID_DUPLICATE: kept, so a reader in another process counts it
                self.refused_repeats += 1
                self.db.execute("INSERT INTO refused VALUES (?, ?)", (sent.random_id, time.time()))
                return None
        self.sent.append(sent)
        return sent.message_id

    def start_polling(self, gateway: FakeGateway) -> None:
        """Push updates not taken yet to the receiving session, oldest first, until it stops."""
        stop = threading.Event()
        self._polling = stop

        def poll() -> None:
            while not stop.wait(0.05):
                with self.lock:
                    rows = self.db.execute("SELECT seq, body FROM updates WHERE taken_at IS NULL ORDER BY seq "
                                           "LIMIT 20").fetchall()
                for seq, body in rows:
                    if stop.is_set() or gateway.handler is None:
                        return
                    if gateway.handler(self._message(json.loads(body))) is not False:
                        with self.lock:
                            self.db.execute("UPDATE updates SET taken_at = ? WHERE seq = ?", (time.time(), seq))

        threading.Thread(target=poll, name="fake-telegram-updates", daemon=True).start()

    def stop_polling(self) -> None:
        if self._polling is not None:
            self._polling.set()

    def _message(self, body: dict[str, Any]) -> types.Message:
        user = self.user(body["user_id"], body["language"])
        unique = body["unique"]
        voice = types.Voice(file_id=f"fid-{unique}-1", file_unique_id=unique, duration=body["duration"],
                            mime_type="audio/ogg", file_size=body["size"])
        return types.Message(id=body["message_id"], from_user=user, chat=self.chat(user.id), voice=voice)


class _Column:
    """``files[unique]`` and ``file_ids[unique]`` read from the shared file."""

    def __init__(self, world: SharedTelegram, column: str) -> None:
        self.world, self.column = world, column

    def get(self, unique: str, default: Any = None) -> Any:
        with self.world.lock:
            row = self.world.db.execute(f"SELECT {self.column} FROM files WHERE file_unique_id = ?",
                                        (unique,)).fetchone()
        return row[0] if row else default

    def __getitem__(self, unique: str) -> Any:
        value = self.get(unique)
        if value is None:
            raise KeyError(unique)
        return value


def shared_gateways(path: Path | str, session_dir: Path) -> Callable[[Any, bool], FakeGateway]:
    """A gateway factory for ``transhades run`` against a :class:`SharedTelegram` file."""
    world = SharedTelegram(path)

    def make(credential: Any, receive: bool) -> FakeGateway:
        return SharedGateway(world, credential.name, session_dir, receive)

    return make


class SharedGateway(FakeGateway):
    world: SharedTelegram

    def start(self) -> None:
        super().start()
        if self.receive_updates:
            self.world.start_polling(self)

    def stop(self) -> None:
        if self.receive_updates:
            self.world.stop_polling()
        super().stop()

    def _record(self, sent: Sent) -> int | None:
        self._flood(self.world.send_floods)
        return self.world._record_sent(sent)
