"""The send/flood policy, as a plain object: what leaves the outbox goes out through the receiving session, in
order; a FloodWait holds the whole outbox until Telegram's deadline; a chat that is gone is settled and skipped;
a broken connection keeps everything for the next try. Nothing is ever dropped unsent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pyrogram import errors

from transhades.telegram.download import flood_seconds
from transhades.telegram.outbox import Outbox, Outgoing

log = logging.getLogger("transhades.bot")
NO_SESSION_RETRY = 1.0  # seconds before trying again while the receiving session restarts


class Sender:
    def __init__(self, outbox: Outbox, on_sent: Callable[[Any, int | None], None]) -> None:
        self.outbox = outbox
        self.on_sent = on_sent  # (item key, message id): the desk learns status message ids, journals parts

    def flush(self, gateway: Any | None, now: float) -> float | None:
        """Send what is due now; returns when to look again (None: nothing waits). Raises what a broken
        connection raised, after putting every unsent item back in order."""
        ready, later = self.outbox.due(now)
        for index, item in enumerate(ready):
            if gateway is None:  # the session is restarting: try again shortly, in order
                self._put_back(ready[index:])
                return now + NO_SESSION_RETRY
            try:
                self._send(gateway, item)
            except errors.Flood as error:
                self._put_back(ready[index:])
                wait = flood_seconds(error)
                self.outbox.hold(now + wait)
                log.warning("sending is flood-waited for %s s", error.value)
                return now + wait
            except errors.MessageNotModified:
                pass
            except errors.RPCError as error:  # the chat is gone or the bot was blocked: nobody to tell
                log.warning("could not send to chat %s: %s", item.chat_id, error.__class__.__name__)
                if item.key is not None and item.key[0] == "reply":
                    self.on_sent(item.key, None)  # settled: resending after a restart would fail the same way
            except Exception:  # the connection broke: keep this and the rest for the next incarnation
                self._put_back(ready[index:])
                raise
        return later

    def _put_back(self, items: list[Outgoing]) -> None:
        for item in reversed(items):
            self.outbox.retry(item)

    def _send(self, gateway: Any, item: Outgoing) -> None:
        message_id = None
        if item.kind == "text":
            message_id = gateway.send_text(item.chat_id, item.text, item.reply_to, item.buttons,
                                           random_id=item.random_id)
        elif item.kind == "edit":
            try:
                gateway.edit_text(item.chat_id, item.message_id, item.text, item.buttons)
            except errors.MessageNotModified:
                pass  # it already says so (the edit went out before a restart)
        elif item.kind == "document":
            message_id = gateway.send_document(item.chat_id, item.file_name, item.data, item.text, item.reply_to,
                                               random_id=item.random_id, buttons=item.buttons)
        elif item.kind == "callback":
            gateway.answer_callback(item.callback_id, item.text or None)
        if item.key is not None:
            self.on_sent(item.key, message_id)
