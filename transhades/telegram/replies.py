"""A transcript as Telegram messages: cut into at most 4096 characters each, at a sentence end when one is near,
else at a word boundary, never inside a word unless a single word is longer than a message; or as a file in the
user's format."""

from __future__ import annotations

from typing import Any

from transhades.formats import render, split_text
from transhades.telegram.outbox import Outgoing
from transhades.telegram.route import Route
from transhades.telegram.texts import say

MAX_MESSAGES = 3  # limits.max_reply_messages: a longer text comes as its first message and the whole as a file


def transcript_items(route: Route, transcript: Any, max_messages: int = MAX_MESSAGES) -> list[Outgoing]:
    """The transcript in the user's format: messages of at most 4096 characters (more than ``max_messages``:
    the first one, and the whole as a .txt), or one document (txt, srt, vtt)."""
    label = say(route.lang, "speaker_label")  # "Speaker 1: …" where speakers were told apart
    text = render(transcript, "text", label=label).strip() or say(route.lang, "empty")
    if route.format in ("srt", "vtt"):
        body = render(transcript, route.format, label=label)
        return [Outgoing("document", route.chat_id, reply_to=route.reply_to, file_name=f"transcript.{route.format}",
                         data=body.encode())]
    if route.format == "txt":
        return [Outgoing("document", route.chat_id, reply_to=route.reply_to, file_name="transcript.txt",
                         data=text.encode())]
    return bounded(route.chat_id, route.reply_to, route.lang, text, max_messages, "transcript.txt")


def bounded(chat_id: int, reply_to: int | None, lang: str, text: str, max_messages: int,
            file_name: str, caption: str = "full_text") -> list[Outgoing]:
    """``text`` as messages of at most 4096 characters, at most ``max_messages`` of them; a longer one as its first
    message and the whole as a file (a 1.5 MB transcript is two items, not 358 messages)."""
    parts = split_text(text, most=max_messages + 1)  # one more tells whether it fits: the rest goes as a file
    if len(parts) <= max_messages:
        return [Outgoing("text", chat_id, part, reply_to=reply_to) for part in parts]
    return [Outgoing("text", chat_id, parts[0], reply_to=reply_to),
            Outgoing("document", chat_id, say(lang, caption), reply_to=reply_to, file_name=file_name,
                     data=text.encode())]
