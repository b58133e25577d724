"""The bot's front desk, as a plain object: it reads updates, decides what to answer and which jobs to start, and
turns each job's events into one status message and, at the end, the transcript in the user's format.

It returns actions for the bot actor (start a job, cancel jobs, ask for the status) and puts every outgoing
message into the :class:`Outbox`, which paces them. It does no I/O besides the user settings store.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from pyrogram import enums, types

from ..formats import render
from ..media import TelegramFile
from ..messages import Completed, Failed, JobEvent, JobRequest, Queued, Stage, Waiting
from .gateway import media_of
from .journal import Journal
from .outbox import Outbox, Outgoing
from .replies import split_message
from .route import Route
from .settings import FORMATS, UserSettings
from .texts import duration_words, language_of, say, state_word

log = logging.getLogger("transhades.bot")
LANGUAGE_CHOICES = ("auto", "en", "id", "ms", "jv", "su", "ar", "zh", "hi", "es", "fr", "de", "ja", "ko", "ru")
DEEPGRAM_MODELS = ("nova-3", "whisper")
MAX_MESSAGES_BEFORE_FILE = 3
PRUNE_EVERY = 500  # accepted jobs between two prunes of the journal


@dataclass(frozen=True)
class StartJob:
    request: JobRequest
    route: Route


@dataclass(frozen=True)
class CancelJobs:
    job_ids: tuple[str, ...]


@dataclass(frozen=True)
class AskStatus:
    chat_id: int
    lang: str


Action = StartJob | CancelJobs | AskStatus


@dataclass(frozen=True)
class DeskRules:
    providers: tuple[tuple[str, str], ...]  # (name, kind) of enabled providers, config order
    max_file_mb: float = 2000.0
    allowed_users: frozenset[int] = frozenset()
    admins: frozenset[int] = frozenset()
    bot_username: str | None = None
    user_jobs_per_minute: int = 0  # 0: no limit; admins are never limited
    max_duration_seconds: float = 6 * 3600  # refused before any download when Telegram tells the length


class FrontDesk:
    def __init__(self, rules: DeskRules, settings: UserSettings, outbox: Outbox | None = None,
                 now: Any = time.monotonic, status_delay: float = 1.0, journal: Journal | None = None) -> None:
        self.rules = rules
        self.journal = journal
        self.accepted = 0
        self.in_hand: Any = None  # the job event the bot actor is handling (kept if it dies on it)
        self.closing = False  # shutting down: new jobs are written down and parked, not started
        self.resumed = False
        self.now = now
        self.status_delay = status_delay
        self.settings = settings
        self.outbox = outbox or Outbox()
        self.username = rules.bot_username  # learnt from the session when the config does not say
        self.status_ids: dict[str, int] = {}
        self.status_parts: dict[int, dict[str, Any]] = {}  # /status requests waiting for their answers
        self._status_numbers = iter(range(1, 1 << 62))
        self.running: dict[int, set[str]] = {}  # user -> job ids
        self.recent_jobs: dict[int, deque[float]] = {}  # user -> when their last jobs came in (rate limit)
        self.marked_running: set[str] = set()

    # ======================================================================================== updates

    def on_update(self, update: Any) -> list[Action]:
        if isinstance(update, types.CallbackQuery):
            if update.from_user is None or not self._allowed(update.from_user.id):
                # a button press (real or crafted) from someone not allowed: stop the client's spinner, store
                # nothing, say nothing
                self.outbox.put(Outgoing("callback", None, callback_id=update.id))
                return []
            return self._on_callback(update)
        if not isinstance(update, types.Message) or update.from_user is None or update.from_user.is_bot:
            return []
        message: types.Message = update
        user = message.from_user
        lang = language_of(user.language_code)
        private = message.chat is None or message.chat.type in (enums.ChatType.PRIVATE, enums.ChatType.BOT)
        if not private and not self._addressed(message):
            return []  # in groups only when mentioned, or when a command answers a media message
        if not self._allowed(user.id):
            if private:
                self._reply(message, say(lang, "not_allowed"))
            return []
        text = (message.text or "").strip()
        if text.startswith("/"):
            return self._on_command(message, text, lang, private)
        target = message if media_of(message) is not None else message.reply_to_message
        if target is not None and media_of(target) is not None:
            return self._intake(message, target, lang)
        if private:
            self._reply(message, say(lang, "not_media"))
        return []

    def _allowed(self, user_id: int) -> bool:
        """The one access check every kind of update passes (messages, commands, button presses)."""
        return not self.rules.allowed_users or user_id in self.rules.allowed_users | self.rules.admins

    def on_poisoned(self, update: Any) -> None:
        """The bot crashed on this update every time: tell its sender, touching nothing else of the desk."""
        if isinstance(update, types.CallbackQuery):
            self.outbox.put(Outgoing("callback", None, callback_id=update.id))
            return
        user, chat = getattr(update, "from_user", None), getattr(update, "chat", None)
        if user is None or chat is None or not self._allowed(user.id):
            return
        lang = language_of(user.language_code)
        target = update if media_of(update) is not None else update.reply_to_message
        key = "failed" if target is not None and media_of(target) is not None else "internal_error"
        self._reply(update, say(lang, key, reason=say(lang, "internal_reason")))

    def _addressed(self, message: types.Message) -> bool:
        text = message.text or message.caption or ""
        name = self.username
        if name and f"@{name.lower()}" in text.lower():
            return True
        return text.startswith("/") and message.reply_to_message is not None and \
            media_of(message.reply_to_message) is not None

    def _intake(self, message: types.Message, target: types.Message, lang: str) -> list[Action]:
        found = media_of(target)
        kind = next(k for k in ("voice", "audio", "video", "video_note", "document") if getattr(target, k, None))
        mime = getattr(found, "mime_type", None) or ""
        if kind == "document" and not mime.startswith(("audio/", "video/")):
            self._reply(message, say(lang, "not_media"))
            return []
        size = int(getattr(found, "file_size", 0) or 0)
        if size > self.rules.max_file_mb * 1_000_000:
            self._reply(message, say(lang, "too_large", size=round(size / 1_000_000), limit=round(self.rules.max_file_mb)))
            return []
        length = float(getattr(found, "duration", 0) or 0)
        if length > self.rules.max_duration_seconds:
            self._reply(message, say(lang, "too_long", length=duration_words(length, lang),
                                     limit=duration_words(self.rules.max_duration_seconds, lang)))
            return []
        user = message.from_user
        if self._limited(message, user.id, lang):
            return []
        prefs = self.settings.get(user.id)
        media = TelegramFile(target.chat.id, target.id, found.file_id, found.file_unique_id, size, kind, mime or None,
                             float(getattr(found, "duration", 0) or 0) or None, getattr(found, "file_name", None))
        job_id = f"tg-{target.chat.id}-{target.id}-{message.id}"
        models = tuple((name, prefs.deepgram_model) for name, k in self.rules.providers
                       if k == "deepgram" and prefs.deepgram_model)
        provider = prefs.provider if prefs.provider in {n for n, _ in self.rules.providers} else None
        request = JobRequest(job_id, str(user.id), media, source_key=f"tg:{found.file_unique_id}",
                             provider=provider, language=prefs.language, models=models,
                             language_hint=(user.language_code or "").split("-")[0].lower() or None)
        route = Route(job_id, message.chat.id, user.id, target.id, lang, prefs.format)
        if self.journal is not None:
            if not self.journal.accept(request, route):
                return []  # Telegram delivered the same update again: the job is already accepted
            self.accepted += 1
            if self.accepted % PRUNE_EVERY == 0:  # a long-running process forgets old jobs as it goes
                self.journal.prune()
        self.recent_jobs.setdefault(user.id, deque()).append(self.now())
        if self.closing:  # written down; the next start takes it up
            self.outbox.put(Outgoing("text", route.chat_id, say(lang, "parked"), reply_to=route.reply_to,
                                     key=("status", job_id)))
            return []
        self.running.setdefault(user.id, set()).add(job_id)
        self.outbox.put(Outgoing("text", route.chat_id, say(lang, "checking cache"), reply_to=route.reply_to,
                                 key=("status", job_id), not_before=self.now() + self.status_delay))
        return [StartJob(request, route)]

    def _limited(self, message: types.Message, user_id: int, lang: str) -> bool:
        limit = self.rules.user_jobs_per_minute
        if not limit or user_id in self.rules.admins:
            return False
        recent = self.recent_jobs.setdefault(user_id, deque())
        now = self.now()
        while recent and recent[0] <= now - 60.0:
            recent.popleft()
        if len(recent) < limit:
            return False
        self._reply(message, say(lang, "rate_limited", limit=limit, wait=duration_words(recent[0] + 60.0 - now, lang)))
        return True

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
            actions.append(StartJob(job.request, route))
        if actions or pruned:
            log.info("journal: %d unfinished job(s) resumed, %d finished one(s) pruned", len(actions), pruned)
        return actions

    def in_flight(self) -> int:
        """Jobs started and not answered yet, plus messages still waiting to go out."""
        return sum(len(jobs) for jobs in self.running.values()) + len(self.outbox.queue)

    # ======================================================================================== commands

    def _on_command(self, message: types.Message, text: str, lang: str, private: bool) -> list[Action]:
        head, _, arg = text.partition(" ")
        command, _, addressee = head[1:].partition("@")
        if addressee and self.username and addressee.lower() != self.username.lower():
            return []
        command = command.lower()
        target = message.reply_to_message
        if not private and target is not None and media_of(target) is not None and command in ("transcribe", "t"):
            return self._intake(message, target, lang)
        handler = COMMANDS.get(command)
        if handler is None:
            if private:
                self._reply(message, say(lang, "unknown_command"))
            return []
        return handler(self, Command(message, arg.strip(), lang, self.settings.get(message.from_user.id)))

    # One small handler per command; COMMANDS (below the class) names them.

    def _help(self, c: "Command") -> list[Action]:
        self._reply(c.message, say(c.lang, "help"))
        return []

    def _status_command(self, c: "Command") -> list[Action]:
        if self.rules.admins and c.user_id not in self.rules.admins:
            self._reply(c.message, say(c.lang, "status_admins"))
            return []
        return [AskStatus(c.message.chat.id, c.lang)]

    def _cancel(self, c: "Command") -> list[Action]:
        jobs = tuple(sorted(self.running.get(c.user_id, ())))
        self._reply(c.message, say(c.lang, "cancel_count", count=len(jobs)) if jobs else say(c.lang, "cancel_none"))
        return [CancelJobs(jobs)] if jobs else []

    def _provider(self, c: "Command") -> list[Action]:
        lang, prefs = c.lang, c.prefs

        def mark(label: str, chosen: bool) -> str:
            return say(lang, "current", label=label) if chosen else label

        rows = [[(mark(say(lang, "auto"), prefs.provider is None), "prov:auto")]] + [
            [(mark(name, name == prefs.provider), f"prov:{name}")] for name, _ in self.rules.providers]
        if any(k == "deepgram" for _, k in self.rules.providers):
            rows.append([(mark(f"{say(lang, 'dg_model')}: {m}", m == prefs.deepgram_model), f"dgm:{m}")
                         for m in DEEPGRAM_MODELS])
        self._reply(c.message, say(lang, "provider_pick", current=prefs.provider or say(lang, "auto")), buttons=rows)
        return []

    def _language(self, c: "Command") -> list[Action]:
        if c.arg:
            return self._set(c.message.chat.id, None, c.user_id, c.lang, "lang", c.arg)
        rows = [[(code if code != "auto" else say(c.lang, "auto"), f"lang:{code}") for code in LANGUAGE_CHOICES[i:i + 5]]
                for i in range(0, len(LANGUAGE_CHOICES), 5)]
        self._reply(c.message, say(c.lang, "language_pick", current=c.prefs.language or say(c.lang, "auto")),
                    buttons=rows)
        return []

    def _format(self, c: "Command") -> list[Action]:
        if c.arg:
            return self._set(c.message.chat.id, None, c.user_id, c.lang, "fmt", c.arg)
        self._reply(c.message, say(c.lang, "format_pick", current=c.prefs.format),
                    buttons=[[(f, f"fmt:{f}") for f in FORMATS]])
        return []

    def _on_callback(self, query: types.CallbackQuery) -> list[Action]:
        user = query.from_user
        lang = language_of(user.language_code)
        data = query.data if isinstance(query.data, str) else (query.data or b"").decode()
        kind, _, value = data.partition(":")
        chat_id = query.message.chat.id if query.message and query.message.chat else user.id
        message_id = query.message.id if query.message else None
        self.outbox.put(Outgoing("callback", None, callback_id=query.id))
        return self._set(chat_id, message_id, user.id, lang, kind, value)

    def _set(self, chat_id: int, message_id: int | None, user_id: int, lang: str, kind: str, value: str) -> list[Action]:
        value = value.strip().lower() if kind != "prov" else value.strip()
        if kind == "prov" and (value == "auto" or value in {n for n, _ in self.rules.providers}):
            self.settings.update(user_id, provider=None if value == "auto" else value)
            text = say(lang, "provider_set", value=value if value != "auto" else say(lang, "auto"))
        elif kind == "dgm" and value in DEEPGRAM_MODELS:
            self.settings.update(user_id, deepgram_model=value)
            text = say(lang, "provider_set", value=f"Deepgram {value}")
        elif kind == "lang":
            if value not in ("auto", "") and not (value.isalpha() and 2 <= len(value) <= 3):
                text = say(lang, "language_bad", value=value)
            else:
                self.settings.update(user_id, language=None if value in ("auto", "") else value)
                text = say(lang, "language_set", value=value if value != "auto" else say(lang, "auto"))
        elif kind == "fmt" and value in FORMATS:
            self.settings.update(user_id, format=value)
            text = say(lang, "format_set", value=value)
        else:
            return []
        if message_id is not None:
            self.outbox.put(Outgoing("edit", chat_id, text, message_id=message_id))
        else:
            self.outbox.put(Outgoing("text", chat_id, text))
        return []

    # ======================================================================================== job events

    def on_event(self, route: Route, event: JobEvent) -> None:
        lang = route.lang
        if self.journal is not None and isinstance(event, Stage) and route.job_id not in self.marked_running:
            self.marked_running.add(route.job_id)
            self.journal.running(route.job_id)
        if isinstance(event, Queued):
            self._status(route, say(lang, "queued", position=event.position))
        elif isinstance(event, Stage):
            if event.stage == "downloading":
                self._status(route, say(lang, "downloading", percent=int(100 * (event.fraction or 0))))
            elif event.stage == "transcribing" and event.parts > 1:
                self._status(route, say(lang, "transcribing_parts", part=event.part, parts=event.parts))
            elif event.stage in ("transcribing", "preparing audio", "checking cache"):
                self._status(route, say(lang, event.stage))
        elif isinstance(event, Waiting):
            key = "waiting_telegram" if "Telegram" in event.reason else "waiting_providers"
            self._status(route, say(lang, key, wait=duration_words(event.seconds, lang)))
        elif isinstance(event, Completed):
            if not self._done(route):
                return  # already answered (a job resumed twice); never a second reply
            if not self.outbox.drop(("status", route.job_id)):  # answered before any status was needed
                self._status(route, say(lang, "done_cached" if event.cached else "done"))
            self.status_ids.pop(route.job_id, None)
            self._reply_with(route, self._deliver(route, event))
        elif isinstance(event, Failed):
            if not self._done(route):
                return
            reason = say(lang, "cancelled") if event.error.kind == "cancelled" else say(lang, "failed", reason=event.error)
            self.outbox.drop(("status", route.job_id))
            message_id = self.status_ids.pop(route.job_id, None)
            if message_id is not None:
                self._reply_with(route, [Outgoing("edit", route.chat_id, reason, message_id=message_id)])
            else:
                self._reply_with(route, [Outgoing("text", route.chat_id, reason, reply_to=route.reply_to)])

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

    def _deliver(self, route: Route, event: Completed) -> list[Outgoing]:
        transcript = event.transcript
        text = transcript.text.strip() or say(route.lang, "empty")
        if route.format in ("srt", "vtt"):
            body = render(transcript, route.format)
            return [Outgoing("document", route.chat_id, reply_to=route.reply_to, file_name=f"transcript.{route.format}",
                             data=body.encode())]
        if route.format == "txt":
            return [Outgoing("document", route.chat_id, reply_to=route.reply_to, file_name="transcript.txt",
                             data=text.encode())]
        items = [Outgoing("text", route.chat_id, part, reply_to=route.reply_to) for part in split_message(text)]
        if len(items) > MAX_MESSAGES_BEFORE_FILE:
            items.append(Outgoing("document", route.chat_id, say(route.lang, "full_text"), reply_to=route.reply_to,
                                  file_name="transcript.txt", data=text.encode()))
        return items

    def _reply(self, message: types.Message, text: str, buttons: Any = None) -> None:
        self.outbox.put(Outgoing("text", message.chat.id, text, reply_to=message.id, buttons=buttons))

    # ======================================================================================== /status

    def status_wanted(self, chat_id: int, lang: str) -> int:
        """A /status report is composed from the dispatcher's and the cache's answers; this numbers it."""
        number = next(self._status_numbers)
        self.status_parts[number] = {"chat_id": chat_id, "lang": lang}
        return number

    def status_part(self, number: int, part: str, value: Any, wall_now: float | None = None) -> None:
        parts = self.status_parts.get(number)
        if parts is None:
            return
        parts[part] = value
        if "status" in parts and "cache" in parts:
            del self.status_parts[number]
            self.on_status(parts["chat_id"], parts["lang"], parts["status"], wall_now, parts["cache"])

    def on_status(self, chat_id: int, lang: str, status: dict[str, Any], wall_now: float | None = None,
                  cache: dict[str, Any] | None = None) -> None:
        self.outbox.put(Outgoing("text", chat_id, status_report(lang, status, cache, wall_now)))



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


COMMANDS = {
    "start": FrontDesk._help, "help": FrontDesk._help, "status": FrontDesk._status_command,
    "cancel": FrontDesk._cancel, "provider": FrontDesk._provider, "language": FrontDesk._language,
    "format": FrontDesk._format,
}

def status_report(lang: str, status: dict[str, Any], cache: dict[str, Any] | None = None,
                  wall_now: float | None = None) -> str:
    """/status: the original bot's summary first (APIs available, jobs running, cache), then the details."""
    wall_now = time.time() if wall_now is None else wall_now
    groups = status.get("groups", {})
    credentials = [m for group, members in sorted(groups.items()) if group.startswith("credential:") for m in members]
    available = sum(1 for m in credentials if m["state"] == "running" and not m.get("quarantined_for"))
    items = cache.get("items", -1) if cache else -1
    lines = [say(lang, "status_summary", available=available, total=len(credentials), running=status.get("active", 0),
                 max=status.get("max_active", "?"),
                 cache=say(lang, "status_cache_items", items=items) if items >= 0 else "?"),
             "", say(lang, "status_credentials")]
    rates = status.get("credentials", {})
    for m in credentials:
        state = state_word(lang, m["state"])
        if m.get("quarantined_for"):
            state = say(lang, "status_quarantined",
                        until=time.strftime("%H:%M:%S", time.gmtime(wall_now + m["quarantined_for"])))
        stats = rates.get(m["name"], {})
        lines.append(say(lang, "status_credential", name=m["name"].split(":", 1)[1], state=state,
                         rate=f"{stats.get('success_rate', 1.0) * 100:.0f}", requests=stats.get("requests", 0),
                         downloads=stats.get("downloads", 0)))
    lines.append(say(lang, "status_providers"))
    for name, info in status.get("providers", {}).items():
        members = groups.get(f"provider:{name}", [])
        states = ",".join(sorted({state_word(lang, m["state"]) for m in members})) or state_word(lang, "absent")
        extra = say(lang, "status_disabled", why=info["disabled"]) if info.get("disabled") else ""
        lines.append(say(lang, "status_provider", name=name, states=states,
                         breaker=state_word(lang, info["breaker"]), extra=extra))
    counters = status.get("counters", {})
    hits, misses = counters.get("cache_hits", 0), counters.get("cache_misses", 0)
    rate = f"{100 * hits / (hits + misses):.0f}%" if hits + misses else "n/a"
    lines.append(say(lang, "status_queue", running=status.get("active", 0), waiting=status.get("queued", 0)))
    lines.append(say(lang, "status_cache", items=f"{say(lang, 'status_cache_items', items=items)}, " if items >= 0
                     else "", rate=rate, hits=hits, misses=misses))
    lines.append(say(lang, "status_jobs", done=counters.get("completed", 0), failed=counters.get("failed", 0)))
    return "\n".join(lines)
