"""The one narrow door between the actors and the Telegram client library (kurigram, imported as pyrogram).

Actors call a :class:`Gateway` synchronously from their own threads. :class:`KurigramGateway` runs one
``pyrogram.Client`` per credential on an event loop of its own, in a thread of its own, created there and passed
as ``loop=`` (a client is never driven from two loops); calls cross over with ``run_coroutine_threadsafe``.
``sleep_threshold=0`` makes the library raise every FloodWait instead of sleeping through short ones, so the
actor system, not a blocked thread, decides what to do. Errors are the library's own (``pyrogram.errors``);
:mod:`transhades.telegram.download` turns them into ours.

:mod:`transhades.telegram.fake` implements the same protocol in-process for the tests and the simulation; the
tests bind every call below to the real library's signatures so the fake cannot drift.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from transhades.media import TelegramFile
from transhades.private import private_dir

log = logging.getLogger("transhades.telegram")

Buttons = list[list[tuple[str, str]]]  # rows of (label, callback data)
CHUNK = 1 << 20  # stream_media yields 1 MiB chunks


class Gateway(Protocol):
    name: str

    def start(self) -> None:
        """Connect, logging in only when no session exists yet."""

    def stop(self) -> None: ...

    def stream(self, media: TelegramFile, offset_chunks: int = 0, limit_chunks: int = 0) -> Iterator[bytes]:
        """The file's bytes in 1 MiB chunks, from chunk ``offset_chunks`` on (``limit_chunks`` of them; 0: all)."""

    def refresh(self, media: TelegramFile) -> TelegramFile:
        """Fetch the message again for a fresh file reference."""

    def send_text(self, chat_id: int, text: str, reply_to: int | None = None, buttons: Buttons | None = None,
                  random_id: int | None = None) -> int | None:
        """With ``random_id``, sent at most once: Telegram refuses a repeat, and the answer is None."""

    def edit_text(self, chat_id: int, message_id: int, text: str, buttons: Buttons | None = None) -> None: ...

    def send_document(self, chat_id: int, file_name: str, data: bytes, caption: str = "",
                      reply_to: int | None = None, random_id: int | None = None,
                      buttons: Buttons | None = None) -> int | None: ...

    def answer_callback(self, callback_id: str, text: str | None = None) -> None: ...

    def member_status(self, chat_id: int, user_id: int) -> str:
        """A member's status in a chat: owner | administrator | member | restricted | left | banned
        (``pyrogram.errors.UserNotParticipant`` for someone who never joined)."""

    def on_update(self, handler: Callable[[Any], None]) -> None:
        """Receive messages and callback queries (pyrogram types); only the receiving session has updates."""


# ----------------------------------------------------------------------------------- the calls, as data


def client_kwargs(name: str, api_id: int, api_hash: str, bot_token: str, workdir: Path, receive_updates: bool,
                  transmissions: int, loop: Any, in_database: bool = False,
                  session_string: str | None = None) -> dict[str, Any]:
    # skip_updates=False: Telegram keeps a bot's updates while its session is down (a restart, a crash); the
    # receiving session must take them when it is back instead of dropping users' messages.
    kwargs = {"name": name, "api_id": api_id, "api_hash": api_hash, "bot_token": bot_token, "workdir": str(workdir),
              "no_updates": not receive_updates, "skip_updates": False, "sleep_threshold": 0,
              "max_concurrent_transmissions": transmissions, "loop": loop}
    if in_database:  # the session lives in the database (database_url), not in a file on this machine
        kwargs.update(in_memory=True, session_string=session_string)
    return kwargs


def stream_kwargs(media: TelegramFile, offset_chunks: int, limit_chunks: int) -> dict[str, Any]:
    """MTProto's file download works in 1 MiB parts: ``offset`` and ``limit`` count them."""
    return {"message": media.file_id, "offset": offset_chunks, "limit": limit_chunks}


def keyboard(buttons: Buttons | None) -> Any:
    if not buttons:
        return None
    from pyrogram import types

    return types.InlineKeyboardMarkup([[types.InlineKeyboardButton(text, callback_data=data) for text, data in row]
                                       for row in buttons])


async def raw_markup(buttons: Buttons | None, client: Any) -> Any:
    """The inline keyboard as the raw API takes it (``write`` is a coroutine in some releases, plain in others)."""
    if not buttons:
        return None
    written = keyboard(buttons).write(client)
    return await written if inspect.isawaitable(written) else written


def plain() -> Any:
    """Every text goes out as it is: a transcript or a model's answer with ``[a](url)``, ``<b>`` or ``__init__``
    must not become a hidden link, lose text or turn italic (the library parses Markdown and HTML by default)."""
    from pyrogram import enums

    return enums.ParseMode.DISABLED


def send_text_kwargs(chat_id: int, text: str, reply_to: int | None, buttons: Buttons | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"chat_id": chat_id, "text": text, "reply_markup": keyboard(buttons),
                              "parse_mode": plain()}
    if reply_to:
        kwargs["reply_to_message_id"] = reply_to
    return kwargs


def edit_text_kwargs(chat_id: int, message_id: int, text: str, buttons: Buttons | None) -> dict[str, Any]:
    return {"chat_id": chat_id, "message_id": message_id, "text": text, "reply_markup": keyboard(buttons),
            "parse_mode": plain()}


def send_document_kwargs(chat_id: int, file_name: str, data: bytes, caption: str,
                         reply_to: int | None, buttons: Buttons | None = None) -> dict[str, Any]:
    import io

    handle = io.BytesIO(data)
    handle.name = file_name
    kwargs: dict[str, Any] = {"chat_id": chat_id, "document": handle, "file_name": file_name, "caption": caption,
                              "reply_markup": keyboard(buttons), "parse_mode": plain()}
    if reply_to:
        kwargs["reply_to_message_id"] = reply_to
    return kwargs


def once_text_call(peer: Any, text: str, reply_to: int | None, markup: Any, random_id: int) -> Any:
    """messages.sendMessage with our own random_id (pyrogram's send_message draws a fresh one each call). The
    text is sent as it is, with no markdown parsing: a transcript is plain text."""
    from pyrogram import raw

    reply = raw.types.InputReplyToMessage(reply_to_msg_id=reply_to) if reply_to else None
    return raw.functions.messages.SendMessage(peer=peer, message=text, random_id=random_id, no_webpage=True,
                                              reply_to=reply, reply_markup=markup)


def once_document_call(peer: Any, uploaded: Any, file_name: str, caption: str, reply_to: int | None,
                       random_id: int, markup: Any = None) -> Any:
    from pyrogram import raw

    media = raw.types.InputMediaUploadedDocument(
        file=uploaded,
        mime_type="text/plain" if file_name.endswith((".txt", ".srt", ".vtt")) else "application/octet-stream",
        attributes=[raw.types.DocumentAttributeFilename(file_name=file_name)], force_file=True)
    reply = raw.types.InputReplyToMessage(reply_to_msg_id=reply_to) if reply_to else None
    return raw.functions.messages.SendMedia(peer=peer, media=media, message=caption, random_id=random_id,
                                            reply_to=reply, reply_markup=markup)


def sent_message_id(result: Any, random_id: int) -> int | None:
    """The new message's id from what messages.sendMessage/sendMedia return."""
    from pyrogram import raw

    if isinstance(result, raw.types.UpdateShortSentMessage):
        return result.id
    for update in getattr(result, "updates", None) or ():
        if isinstance(update, raw.types.UpdateMessageID) and update.random_id == random_id:
            return update.id
    for update in getattr(result, "updates", None) or ():
        message = getattr(update, "message", None)
        if isinstance(update, (raw.types.UpdateNewMessage, raw.types.UpdateNewChannelMessage)) and message is not None:
            return message.id
    return None


async def _settle(value: Any) -> Any:
    """Await what the client returned when it is awaitable (the real one), take it as it is otherwise."""
    return await value if inspect.isawaitable(value) else value


def media_of(message: Any) -> Any:
    for kind in ("voice", "audio", "video", "video_note", "document"):
        found = getattr(message, kind, None)
        if found is not None:
            return found
    return None


class KurigramGateway:
    def __init__(self, name: str, api_id: int, api_hash: str, bot_token: str, workdir: Path,
                 receive_updates: bool, transmissions: int = 2, timeout: float = 120.0, sessions: Any = None) -> None:
        self.name = name
        self.sessions = sessions  # a SessionStore when database_url is set
        self._settings = (api_id, api_hash, bot_token, workdir, receive_updates, transmissions)
        self.timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.client: Any = None
        self._handler: Callable[[Any], None] | None = None
        self.username: str | None = None

    def _call(self, make: Callable[[], Any], timeout: float | None = None) -> Any:
        """Run ``make()`` inside this session's loop thread and await what it returns. The coroutine is created
        there, never in the caller's thread: pyrogram's sync wrappers would otherwise run it on another loop."""

        async def go() -> Any:
            result = make()
            return await result if inspect.isawaitable(result) else result

        if self._loop is None:
            raise RuntimeError("the Telegram session is not started (start() first)")
        return asyncio.run_coroutine_threadsafe(go(), self._loop).result(timeout or self.timeout)

    def _method(self, name: str) -> Callable[..., Any]:
        """The client's own coroutine function, beneath pyrogram's sync wrapper when there is one."""
        raw = getattr(getattr(type(self.client), name, None), "__wrapped__", None)
        return raw.__get__(self.client) if inspect.isfunction(raw) else getattr(self.client, name)

    def _run(self, name: str, **kwargs: Any) -> Any:
        return self._call(lambda: self._method(name)(**kwargs))

    def start(self) -> None:
        import pyrogram

        api_id, api_hash, bot_token, workdir, receive, transmissions = self._settings
        private_dir(workdir)
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()  # created in the thread that runs it
            asyncio.set_event_loop(self._loop)
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=f"telegram-{self.name}", daemon=True)
        self._thread.start()
        ready.wait()
        stored = self.sessions.load(self.name) if self.sessions is not None else None
        self.client = self._call(lambda: pyrogram.Client(**client_kwargs(
            self.name, api_id, api_hash, bot_token, workdir, receive, transmissions, self._loop,
            self.sessions is not None, stored)))
        if self._handler is not None:
            self._call(self._install_handlers)
        self._run("start")  # logs in only when no session exists yet (file or database)
        if self.sessions is not None:
            made = self._run("export_session_string")
            if made != stored:
                self.sessions.save(self.name, made)
        self.username = getattr(getattr(self.client, "me", None), "username", None)
        session = workdir / f"{self.name}.session"
        if session.exists():
            os.chmod(session, 0o600)

    def stop(self) -> None:
        if self.client is not None and self._loop is not None:
            try:
                self._run("stop")
            except Exception as exc:  # stopping must never raise into an actor's teardown
                log.warning("%s: stop failed: %s", self.name, exc.__class__.__name__)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self.client = None

    def stream(self, media: TelegramFile, offset_chunks: int = 0, limit_chunks: int = 0) -> Iterator[bytes]:
        generator = self._call(lambda: self._method("stream_media")(**stream_kwargs(media, offset_chunks,
                                                                                     limit_chunks)))
        while True:
            try:
                yield self._call(generator.__anext__)
            except StopAsyncIteration:
                return

    def refresh(self, media: TelegramFile) -> TelegramFile:
        from dataclasses import replace

        message = self._run("get_messages", chat_id=media.chat_id, message_ids=media.message_id)
        found = media_of(message)
        if found is None:
            from transhades.errors import BadInput

            raise BadInput("the message with this media was deleted").because("gone")
        return replace(media, file_id=found.file_id)

    def send_text(self, chat_id: int, text: str, reply_to: int | None = None, buttons: Buttons | None = None,
                  random_id: int | None = None) -> int | None:
        if random_id is None:
            return self._run("send_message", **send_text_kwargs(chat_id, text, reply_to, buttons)).id

        async def once() -> Any:
            peer = await _settle(self._method("resolve_peer")(chat_id))
            markup = await raw_markup(buttons, self.client)
            return await _settle(self._method("invoke")(once_text_call(peer, text, reply_to, markup, random_id)))

        return self._once(once, random_id)

    def _once(self, make: Callable[[], Any], random_id: int) -> int | None:
        from pyrogram import errors

        try:
            return sent_message_id(self._call(make), random_id)
        except errors.RandomIdDuplicate:  # it went out before (the process died before noting it)
            return None

    def edit_text(self, chat_id: int, message_id: int, text: str, buttons: Buttons | None = None) -> None:
        self._run("edit_message_text", **edit_text_kwargs(chat_id, message_id, text, buttons))

    def send_document(self, chat_id: int, file_name: str, data: bytes, caption: str = "",
                      reply_to: int | None = None, random_id: int | None = None,
                      buttons: Buttons | None = None) -> int | None:
        if random_id is None:
            return self._run("send_document", **send_document_kwargs(chat_id, file_name, data, caption, reply_to,
                                                                     buttons)).id

        async def once() -> Any:
            peer = await _settle(self._method("resolve_peer")(chat_id))
            handle = send_document_kwargs(chat_id, file_name, data, caption, reply_to)["document"]
            uploaded = await _settle(self._method("save_file")(handle))
            markup = await raw_markup(buttons, self.client)
            return await _settle(self._method("invoke")(once_document_call(peer, uploaded, file_name, caption,
                                                                           reply_to, random_id, markup)))

        return self._once(once, random_id)

    def answer_callback(self, callback_id: str, text: str | None = None) -> None:
        self._run("answer_callback_query", callback_query_id=callback_id, text=text)

    def member_status(self, chat_id: int, user_id: int) -> str:
        return str(self._run("get_chat_member", chat_id=chat_id, user_id=user_id).status.value)

    def on_update(self, handler: Callable[[Any], None]) -> None:
        self._handler = handler
        if self.client is not None:
            self._call(self._install_handlers)

    def _install_handlers(self) -> None:
        from pyrogram.handlers import CallbackQueryHandler, MessageHandler

        handler = self._handler
        assert handler is not None, "installed only once a handler is set"

        async def deliver(_client: Any, update: Any) -> None:
            # The handler waits until the bot has the update written down; not on this loop's thread.
            await asyncio.get_running_loop().run_in_executor(None, handler, update)

        self.client.add_handler(MessageHandler(deliver))
        self.client.add_handler(CallbackQueryHandler(deliver))
