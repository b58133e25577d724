"""The bot's front desk, as a plain object: it reads updates, decides what to answer and which jobs to start, and
turns each job's events into one status message and, at the end, the transcript in the user's format.

It returns actions for the bot actor (start a job, cancel jobs, ask for the status) and puts every outgoing
message into the :class:`Outbox`, which paces them. It does no I/O besides the user settings store.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from pyrogram import enums, types

from transhades.links.fetch import find_link
from transhades.media import TelegramFile, WebLink
from transhades.messages import Completed, Failed, JobEvent, JobRequest, Partial, Queued, Stage, Waiting
from transhades.providers.languages import CODES
from transhades.redaction import redact
from transhades.supervision.keeper import Keeper
from transhades.telegram.actions import Action, StartJob
from transhades.telegram.commands import Commands
from transhades.telegram.followups import Followups
from transhades.telegram.gateway import media_of
from transhades.telegram.journal import Journal
from transhades.telegram.outbox import Outbox, Outgoing
from transhades.telegram.route import Route
from transhades.telegram.settings import UserSettings
from transhades.telegram.status import StatusRequests, status_report
from transhades.telegram.texts import duration_words, language_name, language_of, reason_text, say

log = logging.getLogger("transhades.bot")


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
    commands_per_minute: int = 20  # per user; admins are never limited; 0: no limit
    query_seconds: float = 2.0  # a /search that takes longer is "too broad"
    links: bool = True  # a message with an http(s) link to a recording is a job (``links.enabled``)


class FrontDesk(Keeper):
    def __init__(self, rules: DeskRules, settings: UserSettings, outbox: Outbox | None = None,
                 now: Any = time.monotonic, status_delay: float = 1.0, journal: Journal | None = None,
                 history: Any = None) -> None:
        self.rules = rules
        self.journal = journal
        self.closing = False  # shutting down: new jobs are written down and parked, not started
        self.resumed = False
        self.now = now
        self.status_delay = status_delay
        self.settings = settings
        self.outbox = outbox or Outbox()
        self.username = rules.bot_username  # learnt from the session when the config does not say
        self.status_ids: dict[str, int] = {}
        self.status_requests = StatusRequests()  # /status requests waiting for their answers
        self.partials: dict[str, Partial] = {}  # job id -> its text so far (long recordings)
        self.running: dict[int, set[str]] = {}  # user -> job ids
        self.job_limit = PerMinute(rules.user_jobs_per_minute)
        self.command_limit = PerMinute(rules.commands_per_minute, tell_once=True)
        self.marked_running: set[str] = set()
        self.followups = Followups(history, self.outbox, any(kind == "local" for _, kind in rules.providers), rules.llm,
                                   rules.max_reply_messages)
        self.commands = Commands(rules, settings, self.outbox, lambda user: set(self.running.get(user, ())), history,
                                 self.followups, journal, offload=True)

    def on_update(self, update: Any) -> list[Action]:
        if isinstance(update, types.CallbackQuery):
            return self._on_press(update)
        if not isinstance(update, types.Message) or update.from_user is None or update.from_user.is_bot:
            return []
        message: types.Message = update
        lang = language_of(message.from_user.language_code)
        private = message.chat is None or message.chat.type in (enums.ChatType.PRIVATE, enums.ChatType.BOT)
        if not self._admitted(message, lang, private):
            return []
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
        if self._refused(message, self.job_limit, "rate_limited", lang):
            return []
        return self._accept(*link_request(message, link, self.settings.get(message.from_user.id), self.rules, lang))

    def _admitted(self, message: types.Message, lang: str, private: bool) -> bool:
        """In groups only when addressed (mentioned, or a command answering a media message); and only allowed
        users (a stranger in a private chat is told the bot is private)."""
        if not private and not addressed(message, self.username):
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
        user = message.from_user
        if self._refused(message, self.job_limit, "rate_limited", lang):
            return []
        return self._accept(*job_request(message, target, self.settings.get(user.id), self.rules, lang))

    def _accept(self, request: JobRequest, route: Route) -> list[Action]:
        """A job written down, its status message on the way, and started (parked while closing)."""
        if self.journal is not None and not self.journal.accept(request, route):
            return []  # Telegram delivered the same update again: the job is already accepted
        self.job_limit.take(route.user_id, self.now())
        if self.closing:  # written down; the next start takes it up
            self.outbox.put(Outgoing("text", route.chat_id, say(route.lang, "parked"), reply_to=route.reply_to,
                                     key=("status", route.job_id)))
            return []
        self.followups.started(request)
        self.running.setdefault(route.user_id, set()).add(route.job_id)
        self.outbox.put(Outgoing("text", route.chat_id, say(route.lang, "checking cache"), reply_to=route.reply_to,
                                 key=("status", route.job_id), not_before=self.now() + self.status_delay))
        return [StartJob(request, route)]

    def _accepting(self, actions: list[Action]) -> list[Action]:
        """A job a command or a button asks for (a translation) goes in through the same door as any other."""
        return [a for action in actions
                for a in (self._accept(action.request, action.route) if isinstance(action, StartJob) else [action])]

    def _refused(self, message: types.Message, limit: PerMinute, text_key: str, lang: str) -> bool:
        """Over the user's limit (admins have none): told when to try again, once per refusal or once a minute."""
        wait = None if message.from_user.id in self.rules.admins else limit.wait(message.from_user.id, self.now())
        if wait is not None and limit.tell(message.from_user.id, self.now()):
            self._reply(message, say(lang, text_key, limit=limit.per_minute, wait=duration_words(wait, lang)))
        return wait is not None

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
                self.status_ids[route.job_id] = job.status_message
            if job.state == "replying":
                for part, item in job.parts:
                    item.key = ("reply", route.job_id, part)
                    self.outbox.put(item)
                continue
            self.running.setdefault(route.user_id, set()).add(route.job_id)
            self.followups.started(job.request)
            actions.append(StartJob(job.request, route))
        if actions or pruned:
            log.info("journal: %d unfinished job(s) resumed, %d finished one(s) pruned", len(actions), pruned)
        return actions

    def in_flight(self) -> int:
        """Jobs started and not answered yet, plus messages still waiting to go out."""
        return sum(len(jobs) for jobs in self.running.values()) + len(self.outbox.queue)

    # ======================================================================================== commands

    def _on_command(self, message: types.Message, text: str, lang: str, private: bool) -> list[Action]:
        command, arg = parse_command(text, self.username)
        if command is None:
            return []  # addressed to another bot in the group
        if command != "cancel" and self._refused(message, self.command_limit, "commands_limited", lang):
            return []
        self.command_limit.take(message.from_user.id, self.now())
        target = message.reply_to_message
        if not private and target is not None and media_of(target) is not None and command in ("transcribe", "t"):
            return self._intake(message, target, lang)
        return self._accepting(self.commands.handle(command, message, arg, lang, private))

    # ======================================================================================== job events

    def on_event(self, route: Route, event: JobEvent) -> None:
        if self.journal is not None and isinstance(event, Stage) and route.job_id not in self.marked_running:
            self.marked_running.add(route.job_id)
            self.journal.running(route.job_id)
        if isinstance(event, (Completed, Failed)):
            self.partials.pop(route.job_id, None)
        if isinstance(event, Completed):
            self._completed(route, event)
        elif isinstance(event, Failed):
            self._failed(route, event)
        else:
            text = status_text(route.lang, event, self.partials, route.job_id, route.task)
            if text is not None:
                self._status(route, text)

    def _completed(self, route: Route, event: Completed) -> None:
        if not self._done(route):
            return  # already answered (a job resumed twice); never a second reply
        if not self.outbox.drop(("status", route.job_id)):  # answered before any status was needed
            self._status(route, say(route.lang, "done_cached" if event.cached else "done"))
        self.status_ids.pop(route.job_id, None)
        self._reply_with(route, self.followups.reply(route, event.transcript))  # kept for /history, with buttons

    def _failed(self, route: Route, event: Failed) -> None:
        if not self._done(route):
            return
        self.followups.media.pop(route.job_id, None)  # nothing to keep
        text = failure_text(route.lang, event.error)
        self.outbox.drop(("status", route.job_id))
        message_id = self.status_ids.pop(route.job_id, None)  # the status message says it, else a reply
        self._reply_with(route, [Outgoing("edit", route.chat_id, text, message_id=message_id) if message_id is not None
                                 else Outgoing("text", route.chat_id, text, reply_to=route.reply_to)])

    def _reply_with(self, route: Route, items: list[Outgoing]) -> None:
        """The job's one reply: written to the journal, part by part, before anything of it is sent."""
        self.marked_running.discard(route.job_id)
        if self.journal is None:
            for item in items:
                self.outbox.put(item)
            return
        for part, item in self.journal.replying(route.job_id, items):
            item.key = ("reply", route.job_id, part)
            self.outbox.put(item)

    def sent(self, key: Any, message_id: int | None) -> None:
        """An item with a key went out (``message_id`` None: Telegram had it already, by its random_id)."""
        if not isinstance(key, tuple):
            return
        if key[0] == "status" and message_id is not None:
            self.status_ids[key[1]] = message_id
            if self.journal is not None:
                self.journal.status_message(key[1], message_id)
        elif key[0] == "reply" and self.journal is not None:
            self.journal.part_sent(key[1], key[2])
        else:
            self.followups.sent(key, message_id)

    def _done(self, route: Route) -> bool:
        """Take the job off its user's list; False when it was not there (answered already, or never started
        here: a parked job's late event)."""
        jobs = self.running.get(route.user_id)
        if jobs is None or route.job_id not in jobs:
            return False
        jobs.discard(route.job_id)
        if not jobs:
            del self.running[route.user_id]
        return True

    def _status(self, route: Route, text: str) -> None:
        message_id = self.status_ids.get(route.job_id)
        if message_id is not None:
            self.outbox.put(Outgoing("edit", route.chat_id, text, message_id=message_id))
            return
        for waiting in self.outbox.queue:  # the status message is not out yet: change what it will say
            if waiting.key == ("status", route.job_id):
                waiting.text = text
                return
        self.outbox.put(Outgoing("text", route.chat_id, text, reply_to=route.reply_to, key=("status", route.job_id)))

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


def failure_text(lang: str, error: Any) -> str:
    """A failed job's answer: cancelled, or why, as a sentence in the user's language."""
    return say(lang, "cancelled") if error.kind == "cancelled" else say(lang, "failed", reason=reason_text(lang, error))


PARTIAL_CHARS = 3500  # of the text so far shown in the status message (Telegram allows 4096 in all)


def status_text(lang: str, event: JobEvent, partials: dict[str, Partial], job_id: str,
                task: str = "transcribe") -> str | None:
    """A running job's status message; once a long recording has text, the text so far stays in view."""
    if isinstance(event, Partial):
        partials[job_id] = event
    partial = partials.get(job_id)
    transcribing = isinstance(event, Stage) and event.stage == "transcribing"
    if partial is not None and (isinstance(event, Partial) or transcribing):
        return partial_text(lang, partial)
    if task == "translate" and isinstance(event, Stage) and event.stage == "transcribing":
        return say(lang, "translating", language=language_name("en", lang))  # Whisper's translation into English
    return progress_text(lang, event)


def partial_text(lang: str, partial: Partial) -> str:
    """The status message of a long recording while it runs: how far it is, and the latest of its text."""
    text = partial.transcript.text.strip()
    if len(text) > PARTIAL_CHARS:
        tail = text[-PARTIAL_CHARS:]
        text = "…" + tail[tail.find(" ") + 1:] if " " in tail else "…" + tail
    if partial.parts == 1:  # one recording decoded as it goes: its words so far
        return say(lang, "partial_one", text=text)
    return say(lang, "partial", done=partial.done, parts=partial.parts, text=text)


def progress_text(lang: str, event: JobEvent) -> str | None:
    """What a job's one status message says while it runs (queue position, download %, part i of n, waits)."""
    if isinstance(event, Queued):
        return say(lang, "queued", position=event.position)
    if isinstance(event, Waiting):
        key = "waiting_telegram" if "Telegram" in event.reason else "waiting_providers"
        return say(lang, key, wait=duration_words(event.seconds, lang))
    if not isinstance(event, Stage):
        return None
    if event.stage == "downloading":
        return say(lang, "downloading", percent=int(100 * (event.fraction or 0)))
    if event.stage == "transcribing" and event.parts > 1:
        return say(lang, "transcribing_parts", part=event.part, parts=event.parts)
    if event.stage in ("transcribing", "preparing audio", "checking cache"):
        return say(lang, event.stage)
    return None


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


class PerMinute:
    """At most ``per_minute`` of something per user in any minute (0: no limit)."""

    def __init__(self, per_minute: int, tell_once: bool = False) -> None:
        self.per_minute = per_minute
        self.tell_once = tell_once  # say it once a minute, not at every refusal (a user typing commands)
        self.recent: dict[int, deque[float]] = {}
        self.told: dict[int, float] = {}

    def wait(self, user_id: int, now: float) -> float | None:
        return wait_for_slot(self.recent.setdefault(user_id, deque()), self.per_minute, now)

    def take(self, user_id: int, now: float) -> None:
        self.recent.setdefault(user_id, deque()).append(now)

    def tell(self, user_id: int, now: float) -> bool:
        if not self.tell_once:
            return True
        if now - self.told.get(user_id, -1e9) < 60.0:
            return False
        self.told[user_id] = now
        return True


def wait_for_slot(recent: deque[float], per_minute: int, now: float) -> float | None:
    """Seconds until a user who sent ``recent`` jobs may send another (None: now; ``per_minute`` 0: no limit)."""
    while recent and recent[0] <= now - 60.0:
        recent.popleft()
    if not per_minute or len(recent) < per_minute:
        return None
    return recent[0] + 60.0 - now


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
                lang: str) -> tuple[JobRequest, Route]:
    """The job for a media message, with the user's choices, and where its answers go."""
    found = media_of(target)
    kind = next(k for k in MEDIA_KINDS if getattr(target, k, None))
    media = TelegramFile(target.chat.id, target.id, found.file_id, found.file_unique_id,
                         int(getattr(found, "file_size", 0) or 0), kind, getattr(found, "mime_type", None) or None,
                         float(getattr(found, "duration", 0) or 0) or None, getattr(found, "file_name", None))
    job_id = f"tg-{target.chat.id}-{target.id}-{message.id}"
    request = chosen(JobRequest(job_id, str(message.from_user.id), media, source_key=f"tg:{found.file_unique_id}"),
                     message.from_user, prefs, rules)
    return request, Route(job_id, message.chat.id, message.from_user.id, target.id, lang, prefs.format)


def link_request(message: types.Message, link: str, prefs: Any, rules: DeskRules,
                 lang: str) -> tuple[JobRequest, Route]:
    """The job for a link: no source key (the cache knows the recording by its bytes once it is fetched)."""
    job_id = f"tg-{message.chat.id}-{message.id}-{message.id}"
    request = chosen(JobRequest(job_id, str(message.from_user.id), WebLink(link)), message.from_user, prefs, rules)
    return request, Route(job_id, message.chat.id, message.from_user.id, message.id, lang, prefs.format)


def chosen(request: JobRequest, user: types.User, prefs: Any, rules: DeskRules) -> JobRequest:
    """A request with the user's choices: provider, language, Deepgram model, and their Telegram language as a
    hint for detection."""
    models = tuple((name, prefs.deepgram_model) for name, k in rules.providers
                   if k == "deepgram" and prefs.deepgram_model)
    provider = prefs.provider if prefs.provider in {n for n, _ in rules.providers} else None
    language = prefs.language if prefs.language in CODES else None  # a choice stored before it was checked
    return replace(request, provider=provider, language=language, models=models,
                   language_hint=(user.language_code or "").split("-")[0].lower() or None)
