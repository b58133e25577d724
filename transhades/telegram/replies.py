"""A transcript as Telegram messages: cut into at most 4096 characters each, at a sentence end when one is near,
else at a word boundary, never inside a word unless a single word is longer than a message; or as a file in the
user's format."""

from __future__ import annotations

from typing import Any

from ..formats import render, split_text
from .outbox import Outgoing
from .route import Route
from .texts import say

MAX_MESSAGES_BEFORE_FILE = 3


def transcript_items(route: Route, transcript: Any) -> list[Outgoing]:
    """The transcript in the user's format: messages of at most 4096 characters (and the whole as a .txt when
    there are more than three), or one document (txt, srt, vtt)."""
    text = transcript.text.strip() or say(route.lang, "empty")
    if route.format in ("srt", "vtt"):
        body = render(transcript, route.format)
        return [Outgoing("document", route.chat_id, reply_to=route.reply_to, file_name=f"transcript.{route.format}",
                         data=body.encode())]
    if route.format == "txt":
        return [Outgoing("document", route.chat_id, reply_to=route.reply_to, file_name="transcript.txt",
                         data=text.encode())]
    items = [Outgoing("text", route.chat_id, part, reply_to=route.reply_to) for part in split_text(text)]
    if len(items) > MAX_MESSAGES_BEFORE_FILE:
        items.append(Outgoing("document", route.chat_id, say(route.lang, "full_text"), reply_to=route.reply_to,
                              file_name="transcript.txt", data=text.encode()))
    return items


def split_message(text: str) -> list[str]:
    """At most 4096 characters each (Telegram's limit for one message)."""
    return split_text(text)
