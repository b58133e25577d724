"""What a job's events become in its chat: one status message edited as the job goes (none in a quiet chat),
then the job's one reply, written to the journal part by part before it is sent."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transhades.messages import Completed, Failed, JobEvent, Partial, Queued, Stage, Waiting
from transhades.telegram.followups import Followups
from transhades.telegram.journal import Fenced, Journal
from transhades.telegram.outbox import Outbox, Outgoing
from transhades.telegram.route import Route
from transhades.telegram.texts import duration_words, language_name, reason_text, say

log = logging.getLogger("transhades.bot")


@contextmanager
def deposed_quietly() -> Iterator[None]:
    """A bookkeeping write refused because a newer front has the cluster: this front is stopping; nothing to do."""
    try:
        yield
    except Fenced as deposed:
        log.warning("%s", deposed)


class JobAnswers:
    def __init__(self, outbox: Outbox, followups: Followups, journal: Journal | None, naming: Any = None) -> None:
        self.naming = naming  # a telegram.naming.Naming: known voices named in a transcript
        self.outbox = outbox
        self.followups = followups
        self.journal = journal
        self.status_ids: dict[str, int] = {}  # job id -> its status message
        self.partials: dict[str, Partial] = {}  # job id -> its text so far (long recordings)
        self.running: dict[int, set[str]] = {}  # user -> job ids
        self.marked_running: set[str] = set()

    def started(self, route: Route) -> None:
        self.running.setdefault(route.user_id, set()).add(route.job_id)

    def jobs(self) -> int:
        return sum(len(jobs) for jobs in self.running.values())

    def on_event(self, route: Route, event: JobEvent) -> None:
        if self.journal is not None and isinstance(event, Stage) and route.job_id not in self.marked_running:
            self.marked_running.add(route.job_id)
            with deposed_quietly():
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
        transcript = event.transcript
        if self.naming is not None:  # the chat's known voices, by name
            transcript = self.naming.on_transcript(route.chat_id, route.user_id, route.job_id, transcript,
                                                   event.voices)
        self._reply_with(route, self.followups.reply(route, transcript))  # kept for /history, with buttons

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
        try:
            parts = self.journal.replying(route.job_id, items)
        except Fenced as deposed:  # a newer front resumed this job from the journal: the reply is its to send
            log.error("not replying to job %s: %s", route.job_id, deposed)
            return
        for part, item in parts:
            item.key = ("reply", route.job_id, part)
            self.outbox.put(item)

    def sent(self, key: Any, message_id: int | None) -> None:
        """An item with a key went out (``message_id`` None: Telegram had it already, by its random_id): a status
        message's id is learnt, a reply part marked sent in the journal."""
        if not isinstance(key, tuple):
            return
        if key[0] == "status" and message_id is not None:
            self.status_ids[key[1]] = message_id
            if self.journal is not None:
                with deposed_quietly():
                    self.journal.status_message(key[1], message_id)
        elif key[0] == "reply" and self.journal is not None:
            with deposed_quietly():
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
        if route.silent:
            return  # a quiet chat sees only the result
        message_id = self.status_ids.get(route.job_id)
        if message_id is not None:
            self.outbox.put(Outgoing("edit", route.chat_id, text, message_id=message_id))
            return
        for waiting in self.outbox.queue:  # the status message is not out yet: change what it will say
            if waiting.key == ("status", route.job_id):
                waiting.text = text
                return
        self.outbox.put(Outgoing("text", route.chat_id, text, reply_to=route.reply_to, key=("status", route.job_id)))


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


