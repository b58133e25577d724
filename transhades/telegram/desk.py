"""The bot's front desk, as a plain object: it reads updates, decides what to answer and which jobs to start, and
turns each job's events into one status message and, at the end, the transcript in the user's format.

It returns actions for the bot actor (start a job, cancel jobs, ask for the status) and puts every outgoing
message into the :class:`Outbox`, which paces them. It does no I/O besides the user settings store.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from pyrogram import enums, types

from transhades.links.fetch import find_link
from transhades.media import TelegramFile, WebLink
from transhades.messages import JobEvent, JobRequest, Partial
from transhades.providers.languages import CODES
from transhades.redaction import redact
from transhades.speakers.names import VoiceBook
from transhades.supervision.keeper import Keeper
from transhades.telegram import naming
from transhades.telegram.actions import Action, StartJob
from transhades.telegram.answers import JobAnswers
from transhades.telegram.commands import Commands
from transhades.telegram.followups import Followups
from transhades.telegram.gateway import media_of
from transhades.telegram.groups import COMMANDS as GROUP_COMMANDS
from transhades.telegram.groups import ChatSettings, Groups, as_channel_user, shared
from transhades.telegram.journal import Fenced, Journal
from transhades.telegram.limits import JobLimits, PerMinute
from transhades.telegram.outbox import Outbox, Outgoing
from transhades.telegram.route import Route
from transhades.telegram.settings import UserSettings
from transhades.telegram.status import StatusRequests, status_report
from transhades.telegram.texts import duration_words, language_of, say
from transhades.telegram.vocab import Vocab
from transhades.vocabulary.book import VocabularyBook

log = logging.getLogger("transhades.bot")
CHAT_COMMANDS = GROUP_COMMANDS | {"vocab"}  # heard in a group without being addressed


@dataclass(frozen=True)
class DeskRules:
    providers: tuple[tuple[str, str], ...]  # (name, kind) of enabled providers, config order
    max_file_mb: float = 2000.0
    allowed_users: frozenset[int] = frozenset()
    admins: frozenset[int] = frozenset()
    bot_username: str | None = None
    user_jobs_per_minute: int = 0  # 0: no limit; admins are never limited
    max_duration_seconds: float = 6 * 3600  # refused before any download when Telegram tells the length
    llm: int = 0  # language model actors (/translate, /summary); 0: none configured
    max_reply_messages: int = 3  # a longer answer: its first message and the whole as a file
    max_answer_chars: int = 50_000  # a model's answer is cut here (limits.max_answer_chars)
    commands_per_minute: int = 20  # per user; admins are never limited; 0: no limit
    query_seconds: float = 2.0  # a /search that takes longer is "too broad"
    links: bool = True  # a message with an http(s) link to a recording is a job (``links.enabled``)
    chat_jobs_per_minute: int = 0  # per group or channel, whoever sends; 0: no limit
    speakers: str = "off"  # who said what, unless a user or chat chose (config ``speakers.mode``)
    speakers_told: bool = True  # can anything here tell speakers apart (the offline diarizer, or Deepgram)?
    vocabulary: tuple[str, ...] = ()  # config ``vocabulary``: names and terms for every chat


class FrontDesk(Keeper):
    def __init__(self, rules: DeskRules, settings: UserSettings, outbox: Outbox | None = None,
                 now: Any = time.monotonic, status_delay: float = 1.0, journal: Journal | None = None,
                 history: Any = None, voices: VoiceBook | None = None) -> None:
        self.rules = rules
        self.journal = journal
        self.closing = False  # shutting down: new jobs are written down and parked, not started
        self.resumed = False
        self.now = now
        self.status_delay = status_delay
        self.settings = settings
        self.outbox = outbox or Outbox()
        self.username = rules.bot_username  # learnt from the session when the config does not say
        self.status_requests = StatusRequests()  # /status requests waiting for their answers
        self.limits = JobLimits(rules.user_jobs_per_minute, rules.chat_jobs_per_minute, rules.admins, now)
        self.groups = Groups(ChatSettings(settings.database), self.outbox, now)
        self.command_limit = PerMinute(rules.commands_per_minute, tell_once=True)
        self.followups = Followups(history, self.outbox, any(kind == "local" for _, kind in rules.providers), rules.llm,
                                   rules.max_reply_messages, rules.max_answer_chars)
        self.naming = naming.Naming(voices if history is not None else None, history, self.outbox,
                                    self.groups.is_admin)
        self.vocab = Vocab(VocabularyBook(settings.database), self.outbox, self.groups.is_admin, rules.vocabulary)
        self.followups.vocabulary = self.vocab.terms  # Whisper's translation spells the chat's names too
        self.answers = JobAnswers(self.outbox, self.followups, journal, self.naming)
        self.commands = Commands(rules, settings, self.outbox, lambda user: set(self.running.get(user, ())), history,
                                 self.followups, journal, offload=True, naming=self.naming,
                                 vocabulary=self.vocab.book)

    def on_update(self, update: Any) -> list[Action]:
        if isinstance(update, types.CallbackQuery):
            return self._on_press(update)
        if not isinstance(update, types.Message):
            return []
        if update.from_user is None and update.chat is not None and update.chat.type == enums.ChatType.CHANNEL:
            update = as_channel_user(update)
        if update.from_user is None or update.from_user.is_bot:
            return []
        message: types.Message = update
        private = not shared(message)
        chat_language = None if private else self.groups.prefs(message).language
        lang = language_of(message.from_user.language_code or chat_language)
        if not self._admitted(message, lang, private):
            return []
        return self._on_message(message, lang, private)

    def _on_message(self, message: types.Message, lang: str, private: bool) -> list[Action]:
        text = (message.text or "").strip()
        if text.startswith("/"):
            return self._on_command(message, text, lang, private)
        target = message if media_of(message) is not None else message.reply_to_message
        if target is not None and media_of(target) is not None:
            return self._intake(message, target, lang)
        link = find_link(text) or (find_link(target.text) if target is not None else None)
        if link is not None:
            return self._intake_link(message, link, lang)
        if private:
            self._reply(message, say(lang, "not_media"))
        return []

    def _intake_link(self, message: types.Message, link: str, lang: str) -> list[Action]:
        """A link to a recording is a job like a file, fetched safely by the fetcher actors."""
        if not self.rules.links:
            self._reply(message, say(lang, "links_off"))
            return []
        prefs, silent = self.groups.for_job(message, self.settings.get(message.from_user.id))
        if self._over_limit(message, lang, silent):
            return []
        return self._accept(*link_request(message, link, prefs, self.rules, lang, silent))

    def _over_limit(self, message: types.Message, lang: str, silent: bool) -> bool:
        refused, text = self.limits.refusal(message, lang, silent)
        if text is not None:
            self._reply(message, text)
        return refused

    def _admitted(self, message: types.Message, lang: str, private: bool) -> bool:
        """In groups only when addressed (mentioned, or a command answering a media message); and only allowed
        users (a stranger in a private chat is told the bot is private)."""
        if not private and not (addressed(message, self.username) or self.groups.runs_itself(message)
                                or parse_command(message.text or "", self.username)[0] in CHAT_COMMANDS):
            return False
        if not self._allowed(message.from_user.id):
            if private:
                self._reply(message, say(lang, "not_allowed"))
            return False
        return True

    def _on_press(self, query: types.CallbackQuery) -> list[Action]:
        if query.from_user is None or not self._allowed(query.from_user.id):
            # a button press (real or crafted) from someone not allowed: stop the client's spinner, store nothing,
            # say nothing
            self.outbox.put(Outgoing("callback", None, callback_id=query.id))
            return []
        return self._accepting(self.commands.on_callback(query))

    def _allowed(self, user_id: int) -> bool:
        """The one access check every kind of update passes (messages, commands, button presses)."""
        return not self.rules.allowed_users or user_id in self.rules.allowed_users | self.rules.admins

    def on_poisoned(self, update: Any) -> None:
        """The bot crashed on this update every time: tell its sender, touching nothing else of the desk."""
        user = getattr(update, "from_user", None)
        if isinstance(update, types.CallbackQuery) or user is not None and self._allowed(user.id):
            reply = poison_reply(update)
            if reply is not None:
                self.outbox.put(reply)

    def _intake(self, message: types.Message, target: types.Message, lang: str) -> list[Action]:
        refused = refusal(self.rules, target, lang)
        if refused is not None:
            self._reply(message, refused)
            return []
        prefs, silent = self.groups.for_job(message, self.settings.get(message.from_user.id))
        if self._over_limit(message, lang, silent):
            return []
        return self._accept(*job_request(message, target, prefs, self.rules, lang, silent))

    def _accept(self, request: JobRequest, route: Route) -> list[Action]:
        """A job written down, its status message on the way, and started (parked while closing)."""
        if request.speakers != "off" and request.task == "transcribe" and self.naming.remembering(route.chat_id):
            request = replace(request, voices=True)  # the chat remembers voices: its speakers' come back too
        vocabulary = self.vocab.terms(route.chat_id)
        if vocabulary:
            request = replace(request, vocabulary=vocabulary)
        try:
            if self.journal is not None and not self.journal.accept(request, route):
                return []  # Telegram delivered the same update again: the job is already accepted
        except Fenced as deposed:  # a newer front has the cluster: the job is its to take
            log.error("not accepting job %s: %s", route.job_id, deposed)
            return []
        self.limits.take(route)
        if self.closing:  # written down; the next start takes it up
            self.outbox.put(Outgoing("text", route.chat_id, say(route.lang, "parked"), reply_to=route.reply_to,
                                     key=("status", route.job_id)))
            return []
        self.followups.started(request)
        self.answers.started(route)
        if not route.silent:
            self.outbox.put(Outgoing("text", route.chat_id, say(route.lang, "checking cache"),
                                     reply_to=route.reply_to, key=("status", route.job_id),
                                     not_before=self.now() + self.status_delay))
        return [StartJob(request, route)]

    def _accepting(self, actions: list[Action]) -> list[Action]:
        """A job a command or a button asks for (a translation) goes in through the same door as any other."""
        return [a for action in actions
                for a in (self._accept(action.request, action.route) if isinstance(action, StartJob) else [action])]

    def resume(self) -> list[Action]:
        """Once per process: take up what the journal holds from before (jobs to run, replies to finish)."""
        if self.journal is None or self.resumed:
            return []
        self.resumed = True
        pruned = self.journal.prune()
        actions: list[Action] = []
        for job in self.journal.unfinished():
            route = job.route
            if job.status_message:
                self.answers.status_ids[route.job_id] = job.status_message
            if job.state == "replying":
                for part, item in job.parts:
                    item.key = ("reply", route.job_id, part)
                    self.outbox.put(item)
                continue
            self.answers.started(route)
            self.followups.started(job.request)
            actions.append(StartJob(job.request, route))
        if actions or pruned:
            log.info("journal: %d unfinished job(s) resumed, %d finished one(s) pruned", len(actions), pruned)
        return actions

    def in_flight(self) -> int:
        """Jobs started and not answered yet, plus messages still waiting to go out."""
        return self.answers.jobs() + len(self.outbox.queue)

    # ======================================================================================== commands

    def _on_command(self, message: types.Message, text: str, lang: str, private: bool) -> list[Action]:
        command, arg = parse_command(text, self.username)
        if command is None:
            return []  # addressed to another bot in the group
        user_id, now = message.from_user.id, self.now()
        wait = None if user_id in self.rules.admins or command == "cancel" else self.command_limit.wait(user_id, now)
        if wait is not None:
            if self.command_limit.tell(user_id, now):
                self._reply(message, say(lang, "commands_limited", limit=self.command_limit.per_minute,
                                         wait=duration_words(wait, lang)))
            return []
        self.command_limit.take(user_id, now)
        target = message.reply_to_message
        if not private and target is not None and media_of(target) is not None and command in ("transcribe", "t"):
            return self._intake(message, target, lang)
        if command == "vocab":
            self.vocab.command(message, arg, lang, private)
            return []
        if command == "speakers" and naming.wants(arg) or not private and command in GROUP_COMMANDS:
            self._chat_command(command, message, arg, lang, private)
            return []
        return self._accepting(self.commands.handle(command, message, arg, lang, private))

    def _chat_command(self, command: str, message: types.Message, arg: str, lang: str, private: bool) -> None:
        """Naming speakers (anywhere), and a group's or channel's own settings."""
        if command == "speakers" and naming.wants(arg):
            self.naming.command(message, arg, lang, private)
            return
        self.groups.command(command, message, arg, lang)
        if command == "speakers" and not arg.strip():
            self._reply(message, self.naming.known(message.chat.id, lang))

    # ======================================================================================== job events

    def on_event(self, route: Route, event: JobEvent) -> None:
        self.answers.on_event(route, event)

    def sent(self, key: Any, message_id: int | None) -> None:
        """An item with a key went out (``message_id`` None: Telegram had it already, by its random_id)."""
        self.answers.sent(key, message_id)

    @property
    def running(self) -> dict[int, set[str]]:
        return self.answers.running

    @property
    def partials(self) -> dict[str, Partial]:
        return self.answers.partials

    def _reply(self, message: types.Message, text: str, buttons: Any = None) -> None:
        self.outbox.put(Outgoing("text", message.chat.id, text, reply_to=message.id, buttons=buttons))

    def status_wanted(self, chat_id: int, lang: str) -> int:
        """A /status report is composed from the dispatcher's and the cache's answers; this numbers it."""
        return self.status_requests.wanted(chat_id, lang)

    def status_part(self, number: int, part: str, value: Any, wall_now: float | None = None) -> None:
        whole = self.status_requests.part(number, part, value)
        if whole is not None:
            report = status_report(whole["lang"], whole["status"], whole["cache"], wall_now)
            self.outbox.put(Outgoing("text", whole["chat_id"], redact(report)))  # it quotes providers' errors


def poison_reply(update: Any) -> Outgoing | None:
    """The answer to an update the bot could not handle: an error for its sender, or a stopped button spinner."""
    if isinstance(update, types.CallbackQuery):
        return Outgoing("callback", None, callback_id=update.id)
    if getattr(update, "chat", None) is None:
        return None
    lang = language_of(update.from_user.language_code)
    target = update if media_of(update) is not None else update.reply_to_message
    key = "failed" if target is not None and media_of(target) is not None else "internal_error"
    return Outgoing("text", update.chat.id, say(lang, key, reason=say(lang, "internal_reason")), reply_to=update.id)


def addressed(message: types.Message, username: str | None) -> bool:
    """In a group: the bot is mentioned, or a command answers a media message."""
    text = message.text or message.caption or ""
    if username and f"@{username.lower()}" in text.lower():
        return True
    return text.startswith("/") and message.reply_to_message is not None and \
        media_of(message.reply_to_message) is not None


def parse_command(text: str, username: str | None) -> tuple[str | None, str]:
    """("command", "argument") of "/command@bot argument"; command None when addressed to another bot."""
    head, _, arg = text.partition(" ")
    command, _, addressee = head[1:].partition("@")
    if addressee and username and addressee.lower() != username.lower():
        return None, arg
    return command.lower(), arg


MEDIA_KINDS = ("voice", "audio", "video", "video_note", "document")


def refusal(rules: DeskRules, target: types.Message, lang: str) -> str | None:
    """Why this media is refused before any download (a document that is not audio or video, over the size or
    length limit), or None."""
    found = media_of(target)
    kind = next(k for k in MEDIA_KINDS if getattr(target, k, None))
    mime = getattr(found, "mime_type", None) or ""
    if kind == "document" and not mime.startswith(("audio/", "video/")):
        return say(lang, "not_media")
    size = int(getattr(found, "file_size", 0) or 0)
    if size > rules.max_file_mb * 1_000_000:
        return say(lang, "too_large", size=round(size / 1_000_000), limit=round(rules.max_file_mb))
    length = float(getattr(found, "duration", 0) or 0)
    if length > rules.max_duration_seconds:
        return say(lang, "too_long", length=duration_words(length, lang),
                   limit=duration_words(rules.max_duration_seconds, lang))
    return None


def job_request(message: types.Message, target: types.Message, prefs: Any, rules: DeskRules,
                lang: str, silent: bool = False) -> tuple[JobRequest, Route]:
    """The job for a media message, with the user's choices, and where its answers go."""
    found = media_of(target)
    kind = next(k for k in MEDIA_KINDS if getattr(target, k, None))
    media = TelegramFile(target.chat.id, target.id, found.file_id, found.file_unique_id,
                         int(getattr(found, "file_size", 0) or 0), kind, getattr(found, "mime_type", None) or None,
                         float(getattr(found, "duration", 0) or 0) or None, getattr(found, "file_name", None))
    job_id = f"tg-{target.chat.id}-{target.id}-{message.id}"
    request = chosen(JobRequest(job_id, str(message.from_user.id), media, source_key=f"tg:{found.file_unique_id}"),
                     message.from_user, prefs, rules)
    return request, Route(job_id, message.chat.id, message.from_user.id, target.id, lang, prefs.format,
                          silent=silent)


def link_request(message: types.Message, link: str, prefs: Any, rules: DeskRules,
                 lang: str, silent: bool = False) -> tuple[JobRequest, Route]:
    """The job for a link: no source key (the cache knows the recording by its bytes once it is fetched)."""
    job_id = f"tg-{message.chat.id}-{message.id}-{message.id}"
    request = chosen(JobRequest(job_id, str(message.from_user.id), WebLink(link)), message.from_user, prefs, rules)
    return request, Route(job_id, message.chat.id, message.from_user.id, message.id, lang, prefs.format,
                          silent=silent)


def chosen(request: JobRequest, user: types.User, prefs: Any, rules: DeskRules) -> JobRequest:
    """A request with the user's choices: provider, language, Deepgram model, and their Telegram language as a
    hint for detection."""
    models = tuple((name, prefs.deepgram_model) for name, k in rules.providers
                   if k == "deepgram" and prefs.deepgram_model)
    provider = prefs.provider if prefs.provider in {n for n, _ in rules.providers} else None
    language = prefs.language if prefs.language in CODES else None  # a choice stored before it was checked
    return replace(request, provider=provider, language=language, models=models,
                   language_hint=(user.language_code or "").split("-")[0].lower() or None,
                   speakers=getattr(prefs, "speakers", None) or rules.speakers)
