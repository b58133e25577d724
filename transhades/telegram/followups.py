"""What follows a transcript: it is kept for the user (with the buttons Translate, Summary and SRT under it),
/translate and /summary through the language model (``llm:``) or, for English without one, Whisper's own
translation of the same media on the local model, and the model's answers, split like transcripts.

A plain object the desk and the commands share; it does no I/O besides the history store."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from transhades.errors import RateLimited
from transhades.formats import render
from transhades.llm.client import MODEL_PREFIX
from transhades.media import TelegramFile
from transhades.messages import JobRequest
from transhades.providers.languages import CODES
from transhades.telegram.actions import Action, Ask, StartJob, UseModel
from transhades.telegram.buttons import SRT, SUMMARY, TRANSLATE, TRANSLATE_TO
from transhades.telegram.outbox import Outbox, Outgoing
from transhades.telegram.replies import MAX_MESSAGES, bounded, transcript_items
from transhades.telegram.route import Route
from transhades.telegram.texts import duration_words, language_name, reason_text, say

TARGETS = ("en", "id", "ms", "jv", "su", "ar", "zh", "hi", "es", "fr", "de", "ja", "ko", "ru")


class Where:
    """Where an answer goes: the chat, the message it answers, the user and their language."""

    def __init__(self, chat_id: int, user_id: int, reply_to: int | None, lang: str, origin: str,
                 message_id: int | None = None) -> None:
        self.chat_id, self.user_id, self.reply_to, self.lang = chat_id, user_id, reply_to, lang
        self.origin = origin  # unique per request (a message or a button press): names the job it may start
        self.message_id = message_id  # a language picker that was pressed: edited, not answered

    def on_picker(self) -> Where:
        """A choice on the language picker (the pressed message): the picker stops offering, and says the rest."""
        return Where(self.chat_id, self.user_id, self.reply_to, self.lang, self.origin, message_id=self.reply_to)


class Followups:
    def __init__(self, history: Any, outbox: Outbox, local: bool, llm: int, max_messages: int = MAX_MESSAGES,
                 max_answer_chars: int = 50_000) -> None:
        self.max_messages = max_messages  # limits.max_reply_messages (a model's answer: at most two)
        self.max_answer_chars = max_answer_chars  # limits.max_answer_chars: a runaway answer is cut, and says so
        self.history = history  # a telegram.history.History, or None (nothing kept)
        self.outbox = outbox
        self.local = local  # a local provider is configured (Whisper's translation into English)
        self.llm = llm  # language model actors (0: none configured)
        self.media: dict[str, TelegramFile] = {}  # running job -> its media, kept with its transcript
        self.asks: dict[str, int] = {}  # ask id -> its status message, once sent
        self.pending: dict[int, str] = {}  # user -> their ask the model is working on (one at a time each)
        self.vocabulary: Callable[[int], tuple[str, ...]] = lambda chat_id: ()  # a chat's names and terms
        self.unkept: set[str] = set()  # jobs running when their user confirmed /forget: answered, never kept
        self.numbers = itertools.count(1)

    # ----------------------------------------------------------------------------------- transcripts

    def started(self, request: JobRequest) -> None:
        if isinstance(request.media, TelegramFile) and request.task == "transcribe":
            self.media[request.id] = request.media

    def reply(self, route: Route, transcript: Any) -> list[Outgoing]:
        """A job's answer: a translation as such; a transcript kept for the user, with the buttons under it."""
        media = self.media.pop(route.job_id, None)
        if route.task == "translate":
            return self._answer_items(route.chat_id, route.reply_to, route.lang, "translate", "en", transcript.text)
        items = transcript_items(route, transcript, self.max_messages)
        if route.job_id in self.unkept:
            self.unkept.discard(route.job_id)
            return items
        if self.history is not None and self.history.add(route.user_id, route.job_id, transcript, media):
            items[-1].buttons = [[kind.button(say(route.lang, kind.text_key), route.job_id)
                                  for kind in (TRANSLATE, SUMMARY, SRT)]]
        return items

    # ----------------------------------------------------------------------------------- asking for more

    def translate(self, where: Where, target: str, job_id: str = "") -> list[Action]:
        """``target`` empty: ask which language. Otherwise the model, or Whisper for English without one."""
        target = target.strip().lower()
        if not target:
            self._say(where, say(where.lang, "translate_pick"), buttons=[
                [TRANSLATE_TO.button(language_name(code, where.lang), code, job_id) for code in TARGETS[i:i + 5]]
                for i in range(0, len(TARGETS), 5)])
            return []
        if not (target.isalpha() and 2 <= len(target) <= 3):
            self._say(where, say(where.lang, "translate_usage"))
            return []
        if target not in CODES:  # the model would be asked for a language nobody named
            self._say(where, say(where.lang, "translate_unknown", value=target))
            return []
        if where.message_id is not None:  # chosen: no second press of the same picker
            self.outbox.put(Outgoing("edit", where.chat_id, f"{say(where.lang, 'translate_pick')} → "
                                     f"{language_name(target, where.lang)}", message_id=where.message_id))
        kept = self._kept(where, job_id)
        if kept is None:
            return []
        if self.llm:
            return self._ask(where, "translate", target, kept.transcript.text)
        if target != "en":
            self._say(where, say(where.lang, "translate_needs_llm", language=language_name(target, where.lang)))
            return []
        return self._whisper(where, kept)

    def summary(self, where: Where, job_id: str = "") -> list[Action]:
        if not self.llm:
            self._say(where, say(where.lang, "summary_needs_llm"))
            return []
        kept = self._kept(where, job_id)
        return self._ask(where, "summary", where.lang, kept.transcript.text) if kept is not None else []

    def srt(self, where: Where, job_id: str) -> list[Action]:
        kept = self._kept(where, job_id)
        if kept is not None:
            self.outbox.put(Outgoing("document", where.chat_id, reply_to=where.reply_to, file_name="transcript.srt",
                                     data=render(kept.transcript, "srt").encode()))
        return []

    def _kept(self, where: Where, job_id: str) -> Any:
        """The transcript a button is under, or the user's latest; None (and the user told) when none is kept."""
        kept = self.history.get(where.user_id, job_id) if self.history is not None else None
        if kept is None:
            self._say(where, say(where.lang, "nothing_kept"))
        return kept

    def _whisper(self, where: Where, kept: Any) -> list[Action]:
        if not self.local:
            self._say(where, say(where.lang, "translate_needs_local"))
            return []
        if kept.media is None:
            self._say(where, say(where.lang, "translate_no_media"))
            return []
        job_id = f"tr-{where.origin}"
        request = JobRequest(job_id, str(where.user_id), kept.media, source_key=f"tg:{kept.media.file_unique_id}",
                             language=kept.transcript.language, task="translate",
                             vocabulary=self.vocabulary(where.chat_id))
        return [StartJob(request, Route(job_id, where.chat_id, where.user_id, where.reply_to or 0, where.lang,
                                        "text", task="translate"))]

    def _ask(self, where: Where, task: str, language: str, text: str) -> list[Action]:
        if where.user_id in self.pending:  # one at a time: a user cannot queue the model up for everyone else
            self._say(where, say(where.lang, "model_pending"))
            return []
        number = next(self.numbers)
        ask = Ask(f"ask-{number}", where.chat_id, where.reply_to, where.lang, task, language, where.user_id,
                  f"{MODEL_PREFIX}{(number - 1) % self.llm + 1}")
        self.pending[where.user_id] = ask.ask_id
        status = say(where.lang, "translating", language=language_name(language, where.lang)) \
            if task == "translate" else say(where.lang, "summarizing")
        if where.message_id is not None:  # the picker itself says it, and becomes the answer
            self.outbox.put(Outgoing("edit", where.chat_id, status, message_id=where.message_id))
            self.asks[ask.ask_id] = where.message_id
        else:
            self.outbox.put(Outgoing("text", where.chat_id, status, reply_to=where.reply_to, key=("ask", ask.ask_id)))
        return [UseModel(ask, text)]

    # ----------------------------------------------------------------------------------- answers

    def answered(self, ask: Ask, text: str | None, error: Any) -> None:
        """The model's answer replaces the status message (its first part does; the rest follow)."""
        if self.pending.get(ask.user_id) == ask.ask_id:
            del self.pending[ask.user_id]
        if error is not None:
            text = say(ask.lang, "model_busy", wait=duration_words(error.retry_after, ask.lang)) \
                if isinstance(error, RateLimited) else \
                say(ask.lang, "model_failed", reason=reason_text(ask.lang, error))
            items = [Outgoing("text", ask.chat_id, text, reply_to=ask.reply_to)]
        else:
            items = self._answer_items(ask.chat_id, ask.reply_to, ask.lang, ask.task, ask.language, text or "")
        message_id = self.asks.pop(ask.ask_id, None)
        first = items[0]
        if message_id is not None:
            items[0] = Outgoing("edit", ask.chat_id, first.text, message_id=message_id)
        else:
            waiting = next((w for w in self.outbox.queue if w.key == ("ask", ask.ask_id)), None)
            if waiting is not None:  # the status message is not out yet: it says the answer instead
                waiting.text, waiting.key = first.text, None
                items = items[1:]
        for item in items:
            self.outbox.put(item)

    def sent(self, key: tuple, message_id: int | None) -> None:
        if key[0] == "ask" and message_id is not None:
            self.asks[key[1]] = message_id

    def _answer_items(self, chat_id: int, reply_to: int | None, lang: str, task: str, language: str,
                      text: str) -> list[Outgoing]:
        title = say(lang, "translation_title", language=language_name(language, lang)) if task == "translate" \
            else say(lang, "summary_title")
        file_name = "translation.txt" if task == "translate" else "summary.txt"
        text = text.strip() or say(lang, "empty")
        if len(text) > self.max_answer_chars:  # a model that runs away: its first part, and a line saying so
            cut = text.rfind(" ", 0, self.max_answer_chars)
            text = text[:cut if cut > self.max_answer_chars // 2 else self.max_answer_chars].rstrip() + \
                "\n\n" + say(lang, "answer_cut", most=f"{self.max_answer_chars:,}")
        return bounded(chat_id, reply_to, lang, f"{title}\n\n{text}", min(2, self.max_messages), file_name,
                       "full_answer")

    def _say(self, where: Where, text: str, buttons: Any = None) -> None:
        self.outbox.put(Outgoing("text", where.chat_id, text, reply_to=where.reply_to, buttons=buttons))
