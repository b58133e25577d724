"""The bot's side of speakers by name (``transhades.speakers.names``):

- ``/speakers name 2 Budi``, as a reply to a transcript (any of its parts) or, without a reply, on the user's latest:
  the transcript, its exports and its history entry say "Budi:", and the message replied to is edited to say so;
  in a chat that remembers voices, Budi's voice becomes (or joins) the chat's voiceprint of Budi;
- ``/speakers remember on|off``: the user in a private chat, admins in a group; off erases the chat's voiceprints;
- ``/speakers forget Budi``: that voiceprint, erased (in a group: by an admin or by whoever named it last);
- ``/speakers``: the mode, and the voices the chat knows;
- a finished transcript: the chat's known voices named in it, its voices kept for later naming (chats that
  remember only).
Every refusal is one sentence in the user's language."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pyrogram import types

from transhades.formats import speaker_name
from transhades.speakers.names import (
    MOST_NAME_CHARS,
    VoiceBook,
    Voices,
    clean_name,
    match,
    name_problem,
    renamed,
    speakers_of,
)
from transhades.telegram.outbox import Outbox, Outgoing
from transhades.telegram.texts import say
from transhades.transcript import Transcript

SUBCOMMANDS = ("name", "remember", "forget")


def wants(arg: str) -> bool:
    """Is this /speakers argument one of naming's (the rest, on|off|auto, is the mode)?"""
    return arg.split(maxsplit=1)[0].lower() in SUBCOMMANDS if arg.strip() else False


class Naming:
    def __init__(self, voices: VoiceBook | None, history: Any, outbox: Outbox,
                 is_admin: Callable[[types.Message], bool | None]) -> None:
        # None: nothing is kept (history off), so no voice is remembered
        self.voices = voices if voices is not None and voices.keep_seconds > 0 else None
        self.history = history
        self.outbox = outbox
        self.is_admin = is_admin  # in a group; a private chat is its user's own

    # ----------------------------------------------------------------------------------- a finished transcript

    def on_transcript(self, chat_id: int, user_id: int, job_id: str, transcript: Transcript,
                      voices: Voices) -> Transcript:
        """The chat's known voices named in a new transcript; its voices kept for naming later."""
        if self.voices is None or not voices:
            return transcript
        found = match(voices, self.voices.prints(chat_id))
        self.voices.heard(job_id, chat_id, user_id, voices)
        if found:
            self.voices.used(chat_id, list(found.values()))
        return renamed(transcript, found)

    def remembering(self, chat_id: int) -> bool:
        return self.voices is not None and self.voices.remembering(chat_id)

    # ----------------------------------------------------------------------------------- /speakers …

    def command(self, message: types.Message, arg: str, lang: str, private: bool) -> None:
        word, _, rest = arg.strip().partition(" ")
        word, rest = word.lower(), rest.strip()
        if word == "name":
            self._reply(message, self._name(message, rest, lang))
        elif word == "remember":
            self._reply(message, self._remember(message, rest.lower(), lang, private))
        elif word == "forget":
            self._reply(message, self._forget(message, rest, lang, private))

    def known(self, chat_id: int, lang: str) -> str:
        """What /speakers adds to its answer: the voices this chat knows, or that it remembers none."""
        if not self.remembering(chat_id):
            return say(lang, "speakers_remembering_off")
        assert self.voices is not None
        names = self.voices.names(chat_id)
        return say(lang, "speakers_known", names=", ".join(names)) if names else say(lang, "speakers_known_none")

    def _name(self, message: types.Message, rest: str, lang: str) -> str:
        number, _, name = rest.partition(" ")
        if not number.isdigit():
            return say(lang, "speakers_name_usage")
        name = clean_name(name)
        problem = name_problem(name)
        if problem is not None:
            return say(lang, problem, most=MOST_NAME_CHARS)
        kept = self._transcript(message)
        if isinstance(kept, str):
            return say(lang, kept)
        user_id, chat_id = message.from_user.id, message.chat.id
        speakers = speakers_of(kept.transcript)
        if not speakers:
            return say(lang, "speakers_name_none")
        if not 1 <= int(number) <= len(speakers):
            return say(lang, "speakers_name_unknown", count=len(speakers))
        old = speakers[int(number) - 1]
        if name != old and any(s.casefold() == name.casefold() for s in speakers):
            return say(lang, "speakers_name_taken", name=name)
        self.history.replace(user_id, kept.job_id, renamed(kept.transcript, {old: name}))
        label = say(lang, "speaker_label")
        self._edit_replied(message, speaker_name(old, label), name)
        told = say(lang, "speakers_named", who=speaker_name(old, label), name=name)
        if self.voices is not None and self.voices.name(chat_id, kept.job_id, str(int(number)), name, user_id):
            return told + say(lang, "speakers_named_remembered", name=name)
        return told + ("" if self.remembering(chat_id) else say(lang, "speakers_named_hint", name=name))

    def _transcript(self, message: types.Message) -> Any:
        """The kept transcript the command names (the one replied to, else the user's latest), or why none (a text
        key)."""
        user_id, replied = message.from_user.id, message.reply_to_message
        job_id = ""
        if replied is not None and self.history is not None:
            answering = self.history.answering(message.chat.id, replied.reply_to_message_id or replied.id)
            if answering is not None and answering[1] != user_id:
                return "speakers_name_not_yours"
            job_id = answering[0] if answering is not None else ""
        kept = self.history.get(user_id, job_id) if self.history is not None else None
        return kept if kept is not None else "nothing_kept"

    def _edit_replied(self, message: types.Message, old: str, new: str) -> None:
        """The bot's message replied to says the new name where its lines said the old label."""
        replied = message.reply_to_message
        if replied is None or not replied.text or replied.from_user is None or not replied.from_user.is_bot:
            return
        text = re.sub(rf"(?m)^{re.escape(old)}:", f"{new}:", replied.text)
        if text != replied.text:
            self.outbox.put(Outgoing("edit", message.chat.id, text, message_id=replied.id))

    def _remember(self, message: types.Message, value: str, lang: str, private: bool) -> str:
        chat_id = message.chat.id
        if value not in ("on", "off"):
            current = say(lang, "word_on" if self.remembering(chat_id) else "word_off")
            return say(lang, "speakers_remember_usage", current=current)
        if self.voices is None:
            return say(lang, "speakers_remember_no_history")
        if not private:
            admin = self.is_admin(message)
            if not admin:
                return say(lang, "speakers_remember_admins" if admin is False else "admin_check_failed")
        if value == "on":
            self.voices.remember(chat_id, True)
            return say(lang, "speakers_remember_on")
        return say(lang, "speakers_remember_off", count=self.voices.remember(chat_id, False))

    def _forget(self, message: types.Message, name: str, lang: str, private: bool) -> str:
        name = clean_name(name)
        if not name:
            return say(lang, "speakers_forget_usage")
        chat_id = message.chat.id
        if self.voices is None or not any(n.casefold() == name.casefold() for n in self.voices.names(chat_id)):
            return say(lang, "speakers_forget_unknown", name=name[:MOST_NAME_CHARS])
        if not private and self.voices.named_by(chat_id, name) != message.from_user.id:
            admin = self.is_admin(message)
            if not admin:
                return say(lang, "speakers_remember_admins" if admin is False else "admin_check_failed")
        self.voices.forget_name(chat_id, name)
        return say(lang, "speakers_forget_done", name=name)

    def _reply(self, message: types.Message, text: str) -> None:
        self.outbox.put(Outgoing("text", message.chat.id, text, reply_to=message.id))
