"""Cut a transcript into Telegram messages: at most 4096 characters each, at a sentence end when one is near,
else at a word boundary, never inside a word unless a single word is longer than a message."""

from __future__ import annotations

import re

LIMIT = 4096
_SENTENCE_END = re.compile(r"[.!?…。](?=\s)")


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    text = text.strip()
    parts: list[str] = []
    while len(text) > limit:
        window = text[:limit]
        ends = [m.end() for m in _SENTENCE_END.finditer(window)]
        cut = ends[-1] if ends and ends[-1] > limit // 2 else -1
        if cut < 0:
            space = window.rfind(" ")
            cut = space if space > limit // 4 else limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts
