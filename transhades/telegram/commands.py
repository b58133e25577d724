"""The settings commands and their buttons: /start, /help, /status, /cancel, /provider, /language, /format, and the
inline keyboard presses that change a user's provider, Deepgram model, language or format. A table of small
handlers; the desk hands each command here after its access check."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pyrogram import types

from transhades.formats import render
from transhades.providers.languages import CODES, to_code
from transhades.telegram.actions import Action, AskStatus, CancelJobs, Offload
from transhades.telegram.buttons import (
    AGAIN,
    DEEPGRAM_MODEL,
    FORGET,
    FORMAT,
    KINDS,
    LANGUAGE,
    PROVIDER,
    SRT,
    SUMMARY,
    TRANSLATE,
    TRANSLATE_TO,
    ButtonKind,
    UnknownButton,
    parse,
)
from transhades.telegram.erasure import ForgetAll, erase, forget_answer
from transhades.telegram.followups import Followups, Where
from transhades.telegram.history import TooSlow
from transhades.telegram.outbox import Outbox, Outgoing
from transhades.telegram.replies import bounded
from transhades.telegram.settings import FORMATS, UserSettings
from transhades.telegram.texts import duration_words, language_name, language_of, say

EXPORTS = ("txt", "md", "srt", "vtt")
LANGUAGE_CHOICES = ("auto", "en", "id", "ms", "jv", "su", "ar", "zh", "hi", "es", "fr", "de", "ja", "ko", "ru")
DEEPGRAM_MODELS = ("nova-3", "whisper")


@dataclass(frozen=True)
class Command:
    """One command as its handler sees it."""

    message: types.Message
    arg: str
    lang: str
    prefs: Any  # the user's settings.Prefs

    @property
    def user_id(self) -> int:
        return self.message.from_user.id



class Commands:
    def __init__(self, rules: Any, settings: UserSettings, outbox: Outbox,
                 running: Callable[[int], set[str]], history: Any = None, followups: Followups | None = None,
                 journal: Any = None, offload: bool = False, naming: Any = None, vocabulary: Any = None) -> None:
        self.vocabulary = vocabulary  # a vocabulary.book.VocabularyBook: the terms a user added go with /forget
        self.naming = naming  # a telegram.naming.Naming: /speakers lists the voices the chat knows
        self.journal = journal  # the job journal: a user's finished jobs go with /forget
        self.offload = offload  # hand kept-transcript work to the history actor instead of doing it here
        self.history = history  # a telegram.history.History, or None (nothing kept)
        self.followups = followups or Followups(history, outbox, False, 0)
        self.rules = rules
        self.settings = settings
        self.outbox = outbox
        self.running = running  # user id -> the job ids running for them

    def handle(self, command: str, message: types.Message, arg: str, lang: str, private: bool) -> list[Action]:
        handler = COMMANDS.get(command)
        if handler is None:
            if private:
                self._reply(message, say(lang, "unknown_command"))
            return []
        if not private and command in PRIVATE_ONLY:  # a user's history is theirs, not the group's
            self._reply(message, say(lang, "private_only", command=command))
            return []
        if self.offload and command in KEPT_WORK:
            return [Offload(command, message, arg.strip(), lang)]
        return handler(self, Command(message, arg.strip(), lang, self.settings.get(message.from_user.id)))

    def _reply(self, message: types.Message, text: str, buttons: Any = None) -> None:
        self.outbox.put(Outgoing("text", message.chat.id, text, reply_to=message.id, buttons=buttons))

    def _help(self, c: Command) -> list[Action]:
        self._reply(c.message, say(c.lang, "help"))
        return []

    def _status_command(self, c: Command) -> list[Action]:
        if self.rules.admins and c.user_id not in self.rules.admins:
            self._reply(c.message, say(c.lang, "status_admins"))
            return []
        return [AskStatus(c.message.chat.id, c.lang)]

    def _cancel(self, c: Command) -> list[Action]:
        jobs = tuple(sorted(self.running(c.user_id)))
        self._reply(c.message, say(c.lang, "cancel_count", count=len(jobs)) if jobs else say(c.lang, "cancel_none"))
        return [CancelJobs(jobs)] if jobs else []

    def _provider(self, c: Command) -> list[Action]:
        lang, prefs = c.lang, c.prefs

        def mark(label: str, chosen: bool) -> str:
            return say(lang, "current", label=label) if chosen else label

        rows = [[PROVIDER.button(mark(say(lang, "auto"), prefs.provider is None), "auto")]] + [
            [PROVIDER.button(mark(name, name == prefs.provider), name)] for name, _ in self.rules.providers]
        if any(k == "deepgram" for _, k in self.rules.providers):
            rows.append([DEEPGRAM_MODEL.button(mark(f"{say(lang, 'dg_model')}: {m}", m == prefs.deepgram_model), m)
                         for m in DEEPGRAM_MODELS])
        self._reply(c.message, say(lang, "provider_pick", current=prefs.provider or say(lang, "auto")), buttons=rows)
        return []

    def _language(self, c: Command) -> list[Action]:
        if c.arg:
            return self.set(c.message.chat.id, None, c.user_id, c.lang, "lang", c.arg)
        rows = [[LANGUAGE.button(language_name(code, c.lang) if code != "auto" else say(c.lang, "auto"), code)
                 for code in LANGUAGE_CHOICES[i:i + 5]] for i in range(0, len(LANGUAGE_CHOICES), 5)]
        current = language_name(c.prefs.language, c.lang) if c.prefs.language else say(c.lang, "auto")
        self._reply(c.message, say(c.lang, "language_pick", current=current),
                    buttons=rows)
        return []

    def _format(self, c: Command) -> list[Action]:
        if c.arg:
            return self.set(c.message.chat.id, None, c.user_id, c.lang, "fmt", c.arg)
        self._reply(c.message, say(c.lang, "format_pick", current=c.prefs.format),
                    buttons=[[FORMAT.button(f, f) for f in FORMATS]])
        return []

    def on_callback(self, query: types.CallbackQuery) -> list[Action]:
        user = query.from_user
        lang = language_of(user.language_code)
        try:
            kind, fields = parse(query.data)
        except UnknownButton:
            kind, fields = None, ()  # a button this version does not make: its spinner stops, nothing else happens
        if kind is FORGET and fields[1] and fields[1] != str(user.id):  # only the asker may answer their question
            self.outbox.put(Outgoing("callback", None, say(lang, "not_your_button"), callback_id=query.id))
            return []
        self.outbox.put(Outgoing("callback", None, callback_id=query.id))
        if kind is None:
            return []
        rest = ":".join(fields)
        stopped: list[Action] = []
        if kind is FORGET and fields[0] == "yes":  # erasure covers work in flight: it is cancelled, and kept nowhere
            stopped = stop_for_forget(self, query, lang)
        if kind in (AGAIN, FORGET) and self.offload:
            return stopped + [Offload(kind.prefix, query, rest, lang)]
        return stopped + self.press(query, kind.prefix, rest, lang)


    def do(self, work: Offload) -> list[Any]:
        """Kept-transcript work handed over by the desk (on the history actor, or inline when there is none)."""
        if work.command in KEPT_WORK:
            return COMMANDS[work.command](self, Command(work.update, work.arg, work.lang,
                                                        self.settings.get(work.update.from_user.id)))
        return self.press(work.update, work.command, work.arg, work.lang)

    def press(self, query: types.CallbackQuery, prefix: str, rest: str, lang: str) -> list[Any]:
        """A button press (its kind's prefix and the fields after it), its spinner already stopped."""
        user = query.from_user
        chat_id = query.message.chat.id if query.message and query.message.chat else user.id
        message_id = query.message.id if query.message else None
        kind = KINDS[prefix]
        fields = kind.unpack(rest)
        if kind is AGAIN:
            return self._again(chat_id, user.id, fields[0], lang)
        if kind in PRESSES:
            return PRESSES[kind](self.followups, Where(chat_id, user.id, message_id, lang, f"q{query.id}"), *fields)
        if kind is FORGET:
            if fields[0] == "yes":  # the cache's share is erased by the caller, which then calls forgotten()
                return [ForgetAll(user.id, chat_id, message_id, lang,
                                  erase(user.id, self.history, self.settings, self.journal,
                                        self.naming.voices if self.naming is not None else None, self.vocabulary))]
            self.answer_prompt(chat_id, message_id, say(lang, "forget_kept"))
            return []
        return self.set(chat_id, message_id, user.id, lang, prefix, fields[0])

    def forgotten(self, done: ForgetAll) -> None:
        """The answer to /forget, once the cache's share is erased too."""
        stays_off = self.history is not None and self.history.keep_seconds > 0 and \
            not self.history.keeping(done.user_id)
        self.answer_prompt(done.chat_id, done.message_id, forget_answer(done, stays_off))

    def answer_prompt(self, chat_id: int, message_id: int | None, text: str) -> None:
        self.outbox.put(Outgoing("edit", chat_id, text, message_id=message_id) if message_id is not None
                        else Outgoing("text", chat_id, text))

    def set(self, chat_id: int, message_id: int | None, user_id: int, lang: str, kind: str, value: str) -> list[Action]:
        """A choice from a button (``kind:value``) or a command argument; the answer edits the keyboard's message."""
        change = SETTERS.get(kind)
        text = change(self, user_id, lang, value.strip()) if change else None
        if text is None:
            return []  # not a choice this bot offers: nothing is stored
        if message_id is not None:
            self.outbox.put(Outgoing("edit", chat_id, text, message_id=message_id))
        else:
            self.outbox.put(Outgoing("text", chat_id, text))
        return []

    def _set_provider(self, user_id: int, lang: str, value: str) -> str | None:
        if value != "auto" and value not in {n for n, _ in self.rules.providers}:
            return None
        self.settings.update(user_id, provider=None if value == "auto" else value)
        return say(lang, "provider_set", value=value if value != "auto" else say(lang, "auto"))

    def _set_deepgram_model(self, user_id: int, lang: str, value: str) -> str | None:
        value = value.lower()
        if value not in DEEPGRAM_MODELS:
            return None
        self.settings.update(user_id, deepgram_model=value)
        return say(lang, "provider_set", value=f"Deepgram {value}")

    def _history(self, c: Command) -> list[Action]:
        if c.arg.lower() in ("on", "off") or self.history and not self.history.keeping(c.user_id):
            return self._history_switch(c)
        kept = self.history.latest(c.user_id) if self.history else []
        if not kept:
            self._reply(c.message, say(c.lang, "history_empty",
                                       length=duration_words(self.history.keep_seconds if self.history else 0, c.lang,
                                                             days=True)))
            return []
        self._reply(c.message, listing(c.lang, "history_title", kept), buttons=_again_buttons(kept))
        return []

    def _history_switch(self, c: Command) -> list[Action]:
        """``/history off|on``: keep nothing for this user from now on, or keep again; ``/history`` while off."""
        days = int(self.history.keep_seconds // 86400) if self.history else 0
        if not days:
            self._reply(c.message, say(c.lang, "history_disabled"))
        elif c.arg.lower() in ("on", "off"):
            self.history.keep_for(c.user_id, c.arg.lower() == "on")
            self._reply(c.message, say(c.lang, "history_" + c.arg.lower(), days=days))
        else:
            self._reply(c.message, say(c.lang, "history_is_off"))
        return []

    def _translate(self, c: Command) -> list[Action]:
        return self.followups.translate(self._where(c), c.arg)

    def _summary(self, c: Command) -> list[Action]:
        return self.followups.summary(self._where(c))

    @staticmethod
    def _where(c: Command) -> Where:
        return Where(c.message.chat.id, c.user_id, c.message.id, c.lang, f"{c.message.chat.id}-{c.message.id}")

    def _search(self, c: Command) -> list[Action]:
        if not c.arg:
            self._reply(c.message, say(c.lang, "search_usage"))
            return []
        try:
            found = self.history.search(c.user_id, c.arg, seconds=self.rules.query_seconds) if self.history else []
        except TooSlow:
            self._reply(c.message, say(c.lang, "search_too_broad"))
            return []
        if not found:
            self._reply(c.message, say(c.lang, "search_none", words=c.arg[:100]))
            return []
        self._reply(c.message, listing(c.lang, "search_title", found), buttons=_again_buttons(found))
        return []

    def _export(self, c: Command) -> list[Action]:
        fmt = (c.arg or "txt").lower()
        if fmt not in EXPORTS:
            self._reply(c.message, say(c.lang, "export_usage"))
            return []
        kept = self.history.latest(c.user_id, 1) if self.history else []
        if not kept:
            return self._history(c)  # says nothing is kept yet, and for how long things are
        body = render(kept[0].transcript, fmt)
        self.outbox.put(Outgoing("document", c.message.chat.id, reply_to=c.message.id, file_name=f"transcript.{fmt}",
                                 data=body.encode()))
        return []

    def _stats(self, c: Command) -> list[Action]:
        numbers = self.history.stats(c.user_id) if self.history else {"count": 0, "seconds": 0.0, "languages": [],
                                                                       "providers": []}
        self._reply(c.message, stats_text(c.lang, numbers))
        return []

    def _forget(self, c: Command) -> list[Action]:
        self._reply(c.message, say(c.lang, "forget_ask"), buttons=[[
            FORGET.button(say(c.lang, "forget_yes"), "yes", c.user_id),
            FORGET.button(say(c.lang, "forget_no"), "no", c.user_id)]])
        return []

    def _again(self, chat_id: int, user_id: int, job_id: str, lang: str) -> list[Action]:
        """A transcript from the history, sent again (only ever the user's own)."""
        kept = self.history.get(user_id, job_id) if self.history else None
        if kept is not None:
            for item in bounded(chat_id, None, lang, kept.transcript.text, self.rules.max_reply_messages,
                                "transcript.txt"):
                self.outbox.put(item)
        return []


def set_language(c: Commands, user_id: int, lang: str, value: str) -> str | None:
    """A code the providers can transcribe (``id``), or its English name (``indonesian``), or auto."""
    if value.lower() in ("auto", ""):
        c.settings.update(user_id, language=None)
        return say(lang, "language_set", value=say(lang, "auto"))
    code = to_code(value)
    if code not in CODES:
        return say(lang, "language_bad", value=value[:40])
    c.settings.update(user_id, language=code)
    return say(lang, "language_set", value=f"{language_name(code, lang)} ({code})")


def stop_for_forget(c: Commands, query: types.CallbackQuery, lang: str) -> list[Action]:
    """/forget confirmed while the user's jobs run: they are cancelled, nothing of them is kept if one finishes in
    the meantime, and the user is told."""
    jobs = tuple(sorted(c.running(query.from_user.id)))
    if not jobs:
        return []
    c.followups.unkept.update(jobs)
    chat_id = query.message.chat.id if query.message and query.message.chat else query.from_user.id
    c.outbox.put(Outgoing("text", chat_id, say(lang, "forget_cancelled", count=len(jobs))))
    return [CancelJobs(jobs)]


def speakers_command(c: Commands, command: Command) -> list[Action]:
    """/speakers on|off|auto: who said what, in this user's transcripts."""
    value = command.arg.lower()
    if value not in ("on", "off", "auto"):
        now = command.prefs.speakers or c.rules.speakers
        told = say(command.lang, "speakers_usage", current=say(command.lang, f"word_{now}"))
        if c.naming is not None:
            told += "\n" + c.naming.known(command.message.chat.id, command.lang)
        c._reply(command.message, told)
        return []
    c.settings.update(command.user_id, speakers=value)
    told = say(command.lang, "speakers_set", value=say(command.lang, f"word_{value}"))
    if value != "off" and not c.rules.speakers_told:  # what the user is told is true: nothing here can do it yet
        told += " " + say(command.lang, "speakers_unavailable")
    c._reply(command.message, told)
    return []


def set_format(c: Commands, user_id: int, lang: str, value: str) -> str | None:
    value = value.lower()
    if value not in FORMATS:
        return say(lang, "format_bad", value=value[:40], choices=", ".join(FORMATS))
    c.settings.update(user_id, format=value)
    return say(lang, "format_set", value=value)


def stats_text(lang: str, numbers: dict[str, Any]) -> str:
    def listed(pairs: Any) -> str:
        return ", ".join(f"{name} ({count})" for name, count in pairs) or "-"

    return say(lang, "stats", count=numbers["count"],
               length=duration_words(float(numbers["seconds"]), lang) if numbers["count"] else "-",
               languages=listed(numbers["languages"]), providers=listed(numbers["providers"]))


def listing(lang: str, title: str, kept: list[Any]) -> str:
    """/history's lines (date, length, first words) or /search's (date, passage), numbered like their buttons."""
    if title == "search_title":
        lines = [say(lang, "search_line", n=n, date=_when(k.at), passage=k.passage.replace("\n", " "))
                 for n, k in enumerate(kept, 1)]
    else:
        lines = [say(lang, "history_line", n=n, date=_when(k.at), length=duration_words(k.transcript.duration, lang),
                     words=_first_words(k.transcript.text)) for n, k in enumerate(kept, 1)]
    return "\n".join([say(lang, title), *lines])[:4096]


def _when(at: float) -> str:
    return time.strftime("%d %b %H:%M", time.gmtime(at))


def _first_words(text: str, count: int = 8) -> str:
    words = text.split()
    return " ".join(words[:count]) + ("…" if len(words) > count else "")


def _again_buttons(kept: list[Any]) -> list[list[tuple[str, str]]]:
    return [[AGAIN.button(str(n), k.job_id) for n, k in enumerate(kept, 1)]]


COMMANDS = {
    "start": Commands._help, "help": Commands._help, "status": Commands._status_command,
    "cancel": Commands._cancel, "provider": Commands._provider, "language": Commands._language,
    "format": Commands._format, "history": Commands._history, "search": Commands._search,
    "export": Commands._export, "stats": Commands._stats, "forget": Commands._forget,
    "translate": Commands._translate, "summary": Commands._summary, "speakers": speakers_command,
}

KEPT_WORK = frozenset({"history", "search", "export", "stats"})  # done by the history actor, off the intake
# What a user has kept is answered only in a private chat with them, never where a group can read it.
PRIVATE_ONLY = frozenset({"history", "search", "export", "stats", "forget", "translate", "summary"})

PRESSES: dict[ButtonKind, Callable[..., list[Any]]] = {  # the buttons under a transcript, the language picker
    TRANSLATE: lambda f, where, job_id: f.translate(where, "", job_id),
    TRANSLATE_TO: lambda f, where, code, job_id: f.translate(where.on_picker(), code, job_id),
    SUMMARY: lambda f, where, job_id: f.summary(where, job_id),
    SRT: lambda f, where, job_id: f.srt(where, job_id),
}

SETTERS = {PROVIDER.prefix: Commands._set_provider, DEEPGRAM_MODEL.prefix: Commands._set_deepgram_model,
           LANGUAGE.prefix: set_language, FORMAT.prefix: set_format}
