"""The dispatcher's brain: the job state machine, admission, routing and failover, as a plain object.

``JobFlow`` receives events (a job submitted, a worker answered, a member of the tree changed state) and
returns *effects* (send this message to that worker, tell this listener, quarantine that group). It does no
I/O and starts no thread, so every routing rule is tested directly; the dispatcher actor is a shell that feeds
it messages and carries out the effects.

A job moves through: queued -> cache check (by source key) -> fingerprint (SHA-256) -> cache check (by
hash) -> prepare audio -> transcribe each chunk -> store -> done. Every step is a *task* placed on a worker of
a *group* (``cache``, ``audio``, ``provider:<name>``). The flow remembers which worker holds each task; when
that worker dies the task is placed again (at most ``retries`` times per job), so no job is lost with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

from .admission import Admission
from .breaker import ProviderBreaker
from .config import DispatcherConfig
from .errors import (
    BadInput,
    Cancelled,
    ProviderRejectedKey,
    ProviderUnavailable,
    RateLimited,
    TranshadesError,
    UploadTooLarge,
)
from .messages import (
    Completed,
    Download,
    Failed,
    Fingerprint,
    JobEvent,
    JobRequest,
    LookupTranscript,
    MemberView,
    PrepareAudio,
    Queued,
    SplitChunk,
    Stage,
    StoreTranscript,
    Transcribe,
    Waiting,
)
from .media import AudioChunk, LocalFile, PreparedAudio, TelegramFile
from .roster import AUDIO, CACHE, CREDENTIAL_PREFIX, PROVIDER_PREFIX, STEPS, Member, Roster, Step, Task
from .routing import CredentialRouter, FlowMetrics, ProviderRouter
from .transcript import Transcript, stitch

DISPATCHER = "dispatcher"
UNPARK_MISSES = 32  # parked tasks tried in a row without success before a queue is left for later


# ------------------------------------------------------------------------------------------------- cache keys


def language_key(base: str, language: str) -> str:
    """The key of a transcript in one language. It does not start with ``sha256:``, so stores count media,
    not languages."""
    return f"lang:{language}:{base}"


def lookup_keys(base: str, language: str | None) -> tuple[str, ...]:
    """A request that fixes a language is answered only by a transcript in that language; one that detects
    takes whatever is cached."""
    return (language_key(base, language),) if language else (base,)


def store_keys(bases: Iterable[str], requested: str | None, detected: str | None) -> tuple[str, ...]:
    languages = [lang for lang in dict.fromkeys((requested, detected)) if lang]
    return tuple(key for base in bases for key in (base, *(language_key(base, lang) for lang in languages)))


# ------------------------------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class Send:
    to: str
    message: Any


@dataclass(frozen=True, slots=True)
class Emit:
    listener: Callable[[JobEvent], None]
    event: JobEvent


@dataclass(frozen=True, slots=True)
class Quarantine:
    group: str
    seconds: float
    reason: str


@dataclass(frozen=True, slots=True)
class ReleaseJob:
    """The job ended: its temporary files can go."""

    job_id: str


@dataclass(frozen=True, slots=True)
class WakeUp:
    """Call ``tick`` after this long: work waits for a moment, not for an event (a paced credential)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Alert:
    """Something the operator must hear about (a rejected key); sent once per cause."""

    text: str


Effect = Send | Emit | Quarantine | ReleaseJob | Alert | WakeUp

# ------------------------------------------------------------------------------------------------- state


@dataclass
class Job:
    request: JobRequest
    listener: Callable[[JobEvent], None]
    order: tuple[str, ...]  # provider failover order for this job
    state: str = "queued"
    sha256: str | None = None
    audio: PreparedAudio | None = None
    local: LocalFile | None = None  # the media on this machine (given, or downloaded)
    finished: list[tuple[AudioChunk, Transcript]] = field(default_factory=list)
    open_chunks: int = 0
    tasks: list[Task] = field(default_factory=list)
    crashes: int = 0
    attempts: int = 0
    submitted_at: float = 0.0
    last_error: TranshadesError | None = None
    waiting_told: bool = False

    @property
    def id(self) -> str:
        return self.request.id

    @property
    def user(self) -> str:
        return self.request.user


class JobFlow:
    def __init__(self, providers: Iterable[tuple[str, str]], limits: DispatcherConfig,
                 now: Callable[[], float], retry_default: float = 30.0,
                 breakers: dict[str, ProviderBreaker] | None = None,
                 upload_limits: dict[str, int] | None = None, download_slots: int = 2,
                 provider_slots: int = 1, audio_slots: int = 4, downloads_per_minute: int = 0,
                 languages: tuple[str, ...] = ()) -> None:
        """``providers``: (name, kind) in config order; local-kind providers are moved to the end.
        ``breakers``: per provider name; a provider without one gets the default breaker."""
        self.providers = ProviderRouter(providers, breakers)
        known = [v for v in (upload_limits or {}).values() if v]
        self.max_chunk_bytes = min(known) if known else None  # a chunk must fit wherever it may be sent
        self.limits = limits
        self.languages = tuple(languages)  # what detection may choose among (config ``languages``)
        self.now = now
        self.retry_default = retry_default
        self.jobs: dict[str, Job] = {}
        self.admission = Admission(limits)
        self.in_hand: Any = None  # the message the dispatcher actor is handling (kept if it dies on it)
        self.roster = Roster({CREDENTIAL_PREFIX: download_slots, PROVIDER_PREFIX: provider_slots, AUDIO: audio_slots})
        self.credentials = CredentialRouter(downloads_per_minute)
        self.metrics = FlowMetrics()

    # ----------------------------------------------------------------------------------- client events

    def submit(self, request: JobRequest, listener: Callable[[JobEvent], None]) -> list[Effect]:
        out: list[Effect] = []
        if request.id in self.jobs:
            return out  # the same job submitted twice is one job
        order = self.providers.order_for(request.provider)
        if order is None:
            known = ", ".join(self.providers.order) or "none"
            return [Emit(listener, Failed(request.id, BadInput(
                f"unknown provider {request.provider!r}; configured providers: {known}")))]
        if request.language is None and len(self.languages) == 1:  # one language allowed: nothing to detect
            request = replace(request, language=self.languages[0])
        job = Job(request, listener, order, submitted_at=self.now())
        self.jobs[request.id] = job
        self.metrics.count("submitted")
        self.admission.enqueue(request.id)
        out += self._admit()
        if job.state == "queued":
            out.append(Emit(listener, Queued(job.id, self.admission.position(job.id))))
        return out

    def cancel(self, job_id: str) -> list[Effect]:
        job = self.jobs.get(job_id)
        if job is None:
            return []
        return self._finish(job, Failed(job_id, Cancelled("the job was cancelled")))

    # ----------------------------------------------------------------------------------- worker events

    def task_done(self, ticket: int, result: Any) -> list[Effect]:
        group = self.tickets[ticket].group if ticket in self.tickets else None
        return self._task_done(ticket, result) + self._freed(group)

    def task_failed(self, ticket: int, error: TranshadesError) -> list[Effect]:
        group = self.tickets[ticket].group if ticket in self.tickets else None
        return self._task_failed(ticket, error) + self._freed(group)

    def _task_done(self, ticket: int, result: Any) -> list[Effect]:
        task = self._take(ticket)
        if task is None:
            return []
        job = self.jobs[task.job_id]
        job.tasks.remove(task)
        if task.step in (Step.LOOKUP_SOURCE, Step.LOOKUP_HASH):
            return self._after_lookup(job, task.step, result)
        if task.step == Step.DOWNLOAD:
            self.credentials.record(task.worker_name, True, self.now())
            job.local = result
            return self._start_task(job, Task(job.id, Step.FINGERPRINT))
        if task.step == Step.FINGERPRINT:
            job.sha256 = str(result)
            return self._start_task(job, Task(job.id, Step.LOOKUP_HASH))
        if task.step == Step.PREPARE:
            return self._after_prepare(job, result)
        if task.step == Step.TRANSCRIBE:
            breaker = self.providers.breaker_of(task.group)
            was_closed = breaker.state == "closed"
            breaker.succeeded()
            job.finished.append((task.chunk, result))
            job.open_chunks -= 1
            out = [] if was_closed else self._unpark()  # a passed trial lets the waiting tasks through
            if job.open_chunks:
                return out
            return out + self._complete(job, stitch(job.finished), cached=False)
        if task.step == Step.SPLIT:  # a provider refused the chunk as too large: its pieces go out instead
            pieces = tuple(result)
            job.open_chunks += len(pieces) - 1
            out = []
            for piece in pieces:
                if job.id in self.jobs:
                    piece_task = Task(job.id, Step.TRANSCRIBE, chunk=piece)
                    job.tasks.append(piece_task)
                    out += self._place(piece_task)
            return out
        raise AssertionError(f"unknown step {task.step}")

    def _task_failed(self, ticket: int, error: TranshadesError) -> list[Effect]:
        task = self._take(ticket)
        if task is None:
            return []
        job = self.jobs[task.job_id]
        job.last_error = error
        if task.step == Step.SPLIT:  # cannot cut it smaller: send the whole chunk to another provider instead
            task.step = Step.TRANSCRIBE
            return self._place(task)
        if isinstance(error, BadInput):
            return self._finish(job, Failed(job.id, error))
        if task.step in (Step.LOOKUP_SOURCE, Step.LOOKUP_HASH):
            job.tasks.remove(task)  # a cache that cannot answer is a miss, never a failed job
            return self._after_lookup(job, task.step, None)
        if task.step == Step.DOWNLOAD:
            self.credentials.record(task.worker_name, False, self.now())
            if isinstance(error, RateLimited):  # FloodWait: this credential waits, the job moves on at once
                return self._quarantine(task.group, error.retry_after or self.retry_default, error.message) + \
                    self._place(task)
        if task.step != Step.TRANSCRIBE:
            return self._retry_or_fail(job, task, error)
        return self._provider_failed(task, error)

    def _provider_failed(self, task: Task, error: TranshadesError) -> list[Effect]:
        """A provider could not transcribe a chunk: quarantine, breaker, disable or split as the error says, then
        the chunk goes to the next provider at once."""
        provider = task.group[len(PROVIDER_PREFIX):]
        task.tried[provider] = error.kind
        out: list[Effect] = []
        if isinstance(error, RateLimited):
            out += self._quarantine(task.group, error.retry_after or self.retry_default, error.message)
        elif isinstance(error, ProviderUnavailable):
            opened = self.providers.breakers[provider].failed(self.now(), error.retry_after)
            if opened:
                out += self._quarantine(task.group, opened, f"circuit open: {error.message}")
        elif isinstance(error, ProviderRejectedKey) and self.providers.disable(task.group, error.message):
            out.append(Alert(f"{error.message}; {provider} is disabled until restart"))
        elif isinstance(error, UploadTooLarge):
            task.step, task.group = Step.SPLIT, AUDIO
            return out + self._place(task)
        return out + self._place(task)

    def task_progress(self, ticket: int, fraction: float) -> list[Effect]:
        task = self.tickets.get(ticket)
        if task is None or task.step not in (Step.TRANSCRIBE, Step.DOWNLOAD):
            return []
        if task.step == Step.DOWNLOAD:
            job = self.jobs[task.job_id]
            return [Emit(job.listener, Stage(job.id, "downloading", fraction=max(0.0, min(1.0, fraction))))]
        job = self.jobs[task.job_id]
        task.fraction = max(0.0, min(1.0, fraction))
        parts = len(job.finished) + job.open_chunks
        done = len(job.finished) + sum(t.fraction for t in job.tasks if t.step == Step.TRANSCRIBE)
        part = min(parts, len(job.finished) + 1)
        return [Emit(job.listener, Stage(job.id, "transcribing", part, parts, done / parts))]

    # ----------------------------------------------------------------------------------- membership

    def membership(self, members: Iterable[MemberView]) -> list[Effect]:
        """The whole table, as after a dispatcher restart: forget loads, place every task again."""
        for task in self.roster.reset(members):
            self.roster.park(task)
        return self._unpark()

    def member_changed(self, view: MemberView) -> list[Effect]:
        member, lost = self.roster.change(view)
        return (self._worker_lost(member) if lost else []) + self._unpark()

    @property
    def tickets(self) -> dict[int, Task]:
        return self.roster.tickets

    # ----------------------------------------------------------------------------------- status

    def status(self) -> dict[str, Any]:
        now = self.now()
        groups = self.roster.status(now)
        return {"active": self.admission.active, "queued": len(self.admission.waiting),
                "max_active": self.limits.max_concurrent_jobs,
                "counters": dict(self.metrics.counters), "groups": groups, "providers": self.providers.status(),
                "credentials": self.credentials.status(now), "durations": self.metrics.durations()}

    # ----------------------------------------------------------------------------------- internals

    def _admit(self) -> list[Effect]:
        out: list[Effect] = []
        admitted = self.admission.admit(lambda job_id: self.jobs[job_id].user)
        for job_id in admitted:
            job = self.jobs[job_id]
            job.state = "running"
            out += self._start_task(job, Task(job.id, Step.LOOKUP_SOURCE) if job.request.source_key
                                    else self._fetch_or_fingerprint(job))
        if admitted:
            out += [Emit(self.jobs[job_id].listener, Queued(job_id, n)) for job_id, n in self.admission.positions()]
        return out

    def _start_task(self, job: Job, task: Task) -> list[Effect]:
        task.group = STEPS[task.step].group or task.group
        job.tasks.append(task)
        stage = STEPS[task.step].stage
        out: list[Effect] = []
        if stage:
            out.append(Emit(job.listener, Stage(job.id, stage)))
        return out + self._place(task)

    def _message(self, job: Job, task: Task, ticket: int) -> Any:
        if task.step == Step.LOOKUP_SOURCE:
            return LookupTranscript(ticket, DISPATCHER, lookup_keys(job.request.source_key, job.request.language))
        if task.step == Step.LOOKUP_HASH:
            return LookupTranscript(ticket, DISPATCHER, lookup_keys(f"sha256:{job.sha256}", job.request.language))
        if task.step == Step.DOWNLOAD:
            return Download(ticket, DISPATCHER, job.id, job.request.media)
        if task.step == Step.FINGERPRINT:
            return Fingerprint(ticket, DISPATCHER, job.local or job.request.media)
        if task.step == Step.PREPARE:
            return PrepareAudio(ticket, DISPATCHER, job.id, job.local or job.request.media, self.max_chunk_bytes)
        if task.step == Step.SPLIT:
            return SplitChunk(ticket, DISPATCHER, task.chunk)
        provider = task.group[len(PROVIDER_PREFIX):]
        request = job.request
        languages = self.languages if request.language is None else ()
        hint = request.language_hint if request.language_hint in languages else None
        return Transcribe(ticket, DISPATCHER, task.chunk, request.language, dict(request.models).get(provider),
                          languages, hint)

    def _pick(self, group: str) -> Member | None:
        now = self.now()
        return None if self.providers.blocked(group, now) else self.roster.least_loaded_free(group, now)

    def _group_outlook(self, group: str) -> str:
        """``usable`` | ``busy`` (every slot taken) | ``later`` (restarting, starting, quarantined, breaker open) |
        ``gone`` (failed, disabled)."""
        if group in self.providers.disabled:
            return "gone"
        now = self.now()
        members = self.roster.group(group)
        if self._pick(group):
            return "usable"
        breaker = self.providers.breaker_of(group)
        if (breaker is None or breaker.state == "closed") and any(m.usable(now) for m in members):
            return "busy"
        if any(m.state in ("starting", "restarting", "running", "quarantined") for m in members):
            return "later"
        return "gone"

    def _send(self, task: Task, member: Member) -> list[Effect]:
        ticket = self.roster.assign(task, member)
        if task.step == Step.TRANSCRIBE:
            self.providers.breaker_of(member.group).sent()
        return [Send(member.name, self._message(self.jobs[task.job_id], task, ticket))]

    def _take(self, ticket: int) -> Task | None:
        return self.roster.take(ticket)

    def _place(self, task: Task) -> list[Effect]:
        job = self.jobs[task.job_id]
        if task.step == Step.DOWNLOAD:
            return self._place_download(job, task)
        if task.step != Step.TRANSCRIBE:
            member = self._pick(task.group)
            if member:
                return self._send(task, member)
            if self._group_outlook(task.group) in ("busy", "later"):
                self._park(task)
                return []
            if task.group == CACHE:  # no cache at all: route around it
                job.tasks.remove(task)
                return self._after_lookup(job, task.step, None)
            return self._finish(job, Failed(job.id, ProviderUnavailable(
                "audio preparation is unavailable; the operator has been alerted")))
        return self._place_transcription(job, task)

    def _survey(self, job: Job, task: Task) -> tuple[list[tuple[str, Member]], set[str], list[str]]:
        """The providers not tried yet in this attempt: (free ones with a member each, busy ones, the groups that
        will be back later)."""
        candidates: list[tuple[str, Member]] = []
        busy: set[str] = set()
        later: list[str] = []
        for provider in job.order:
            if provider in task.tried:
                continue
            group = PROVIDER_PREFIX + provider
            member = self._pick(group)
            outlook = "usable" if member else self._group_outlook(group)
            if member:
                candidates.append((provider, member))
            elif outlook == "busy":
                busy.add(provider)
            elif outlook == "later":
                later.append(group)
        return candidates, busy, later

    def _place_transcription(self, job: Job, task: Task) -> list[Effect]:
        for _ in range(2):
            candidates, busy, later = self._survey(job, task)
            if busy - self.providers.local:  # a remote provider will free up: the local model stays the last resort
                candidates = [c for c in candidates if c[0] not in self.providers.local]
            if job.request.provider in busy:  # the user's choice is busy: wait for it rather than go elsewhere
                candidates = []
            if candidates:
                job.waiting_told = False  # tell the user again if it has to wait again later
                return self._send(task, self.providers.choose(job.request.provider, candidates))
            if busy or later:
                self._park(task)  # a slot frees up, or a quarantine ends; either brings it back
                return [] if busy else self._tell_waiting(job, later)
            # Every provider was tried in this attempt. Rate limits cost no attempt; real failures do.
            if any(kind != RateLimited.kind for kind in task.tried.values()):
                job.attempts += 1
                if job.attempts > self.limits.retries:
                    break
            if not task.tried:
                break
            task.tried.clear()
        error = job.last_error or ProviderUnavailable("no transcription provider is configured or running")
        if not isinstance(error, TranshadesError) or error.kind in ("rate_limited", "internal"):
            error = ProviderUnavailable(f"no transcription provider could take the job: {error}")
        return self._finish(job, Failed(job.id, error))

    def _place_download(self, job: Job, task: Task) -> list[Effect]:
        """The best credential: the most free download slots, then the best recent success rate, then the one
        used least recently, so sustained load spreads over every session and none collects the flood risk."""
        now = self.now()
        credentials = [m for m in self.roster.members.values() if m.group.startswith(CREDENTIAL_PREFIX)]
        ready, paced = self.credentials.split_paced((m for m in credentials if m.free(now)), now)
        if ready:
            job.waiting_told = False
            return self._send(task, self.credentials.choose(ready, now))
        if paced:
            self._park(task)  # the first paced session to have room again takes it
            wait = self.credentials.wake_after(paced, now)
            return [] if wait is None else [WakeUp(wait)]
        if any(m.usable(now) for m in credentials):
            self._park(task)  # every session is busy downloading: wait for a slot, never queue behind a flood
            return []
        later = sorted({m.group for m in credentials if self._group_outlook(m.group) == "later"})
        if later:
            self._park(task)
            return self._tell_waiting(job, later, "every Telegram connection is rate-limited")
        return self._finish(job, Failed(job.id, ProviderUnavailable(
            "no Telegram connection is available to download the file; the operator has been alerted")))

    def tick(self) -> list[Effect]:
        """A wake-up came: the time that work was waiting for has passed."""
        self.credentials.woken()
        return self._unpark([STEPS[Step.DOWNLOAD].queue])

    @property
    def downloads_per_minute(self) -> int:
        return self.credentials.downloads_per_minute

    @downloads_per_minute.setter
    def downloads_per_minute(self, value: int) -> None:
        self.credentials.downloads_per_minute = value

    def _tell_waiting(self, job: Job, groups: list[str],
                      reason: str = "every transcription provider is busy or rate-limited") -> list[Effect]:
        if job.waiting_told:
            return []
        job.waiting_told = True
        now = self.now()
        deadlines = [m.quarantined_until for g in groups for m in self.roster.group(g)
                     if m.quarantined_until and m.quarantined_until > now]
        seconds = min(deadlines) - now if deadlines else 0.0
        return [Emit(job.listener, Waiting(job.id, seconds, reason))]

    def _park(self, task: Task) -> None:
        self.roster.park(task)

    def _unpark(self, queues: Iterable[str] | None = None, slots: int | None = None) -> list[Effect]:
        """Place parked tasks again, oldest first, until ``slots`` of them went out (one freed slot takes one
        task) or many in a row still could not go (the rest wait for the next freed slot)."""
        out: list[Effect] = []
        for name in list(self.roster.parked) if queues is None else queues:
            waiting = self.roster.parked.get(name)
            misses = placed = 0
            for _ in range(len(waiting) if waiting else 0):
                if not waiting or misses >= UNPARK_MISSES or (slots is not None and placed >= slots):
                    break
                task = waiting.popleft()
                job = self.jobs.get(task.job_id)
                if job is None or task not in job.tasks:
                    continue
                out += self._place(task)
                if task.ticket is not None or task.job_id not in self.jobs:
                    placed, misses = placed + 1, 0
                else:
                    misses += 1
        return out

    def _freed(self, group: str | None) -> list[Effect]:
        """A slot in ``group`` came free: the tasks waiting for that kind of work may go."""
        return self._unpark([self.roster.queue_freed_by(group)], slots=1) if group else []

    def _quarantine(self, group: str, seconds: float, reason: str) -> list[Effect]:
        self.roster.quarantine(group, self.now() + seconds)
        return [Quarantine(group, seconds, reason)]

    def _worker_lost(self, member: Member) -> list[Effect]:
        out: list[Effect] = []
        for task in self.roster.lose(member):
            job = self.jobs.get(task.job_id)
            if job is None:
                continue
            if task.step in (Step.LOOKUP_SOURCE, Step.LOOKUP_HASH):  # a cache that died answered nothing: a miss
                job.tasks.remove(task)
                out += self._after_lookup(job, task.step, None)
                continue
            out += self._retry_or_fail(job, task, None, crashed=member.name)
        return out

    def _retry_or_fail(self, job: Job, task: Task, error: TranshadesError | None, crashed: str = "") -> list[Effect]:
        job.crashes += 1
        if job.crashes > self.limits.retries:
            reason = error or ProviderUnavailable(
                f"internal error: {crashed or 'a worker'} stopped while handling this job "
                f"{job.crashes} times; the operator has been alerted")
            return self._finish(job, Failed(job.id, reason))
        return self._place(task)

    def _after_lookup(self, job: Job, step: str, found: Transcript | None) -> list[Effect]:
        if found is not None:
            self.metrics.count("cache_hits")
            return self._complete(job, found, cached=True)
        if step == Step.LOOKUP_SOURCE:
            return self._start_task(job, self._fetch_or_fingerprint(job))
        self.metrics.count("cache_misses")
        return self._start_task(job, Task(job.id, Step.PREPARE))

    def _fetch_or_fingerprint(self, job: Job) -> Task:
        if isinstance(job.request.media, TelegramFile) and job.local is None:
            return Task(job.id, Step.DOWNLOAD)
        return Task(job.id, Step.FINGERPRINT)

    def _after_prepare(self, job: Job, audio: PreparedAudio) -> list[Effect]:
        job.audio = audio
        job.open_chunks = len(audio.chunks)
        out: list[Effect] = [Emit(job.listener, Stage(job.id, "transcribing", 1, len(audio.chunks), 0.0))]
        for chunk in audio.chunks:
            task = Task(job.id, Step.TRANSCRIBE, chunk=chunk)
            job.tasks.append(task)
            out += self._place(task)
            if job.id not in self.jobs:
                break
        return out

    def _complete(self, job: Job, transcript: Transcript, cached: bool) -> list[Effect]:
        bases = tuple(k for k in (job.request.source_key, job.sha256 and f"sha256:{job.sha256}") if k)
        keys = store_keys(bases, job.request.language, transcript.language)
        out: list[Effect] = []
        if keys and (not cached or job.request.source_key and job.sha256):
            member = self._pick(CACHE)
            if member:
                out.append(Send(member.name, StoreTranscript(keys, transcript)))
        self.metrics.count("completed")
        return out + self._finish(job, Completed(job.id, transcript, cached), count=False)

    def _finish(self, job: Job, event: JobEvent, count: bool = True) -> list[Effect]:
        if count and isinstance(event, Failed):
            self.metrics.count("failed")
        self.metrics.job_took(max(0.0, self.now() - job.submitted_at))
        freed = {task.group for task in job.tasks if task.ticket is not None}
        for task in job.tasks:
            if task.ticket is not None:
                self._take(task.ticket)
        job.tasks.clear()
        del self.jobs[job.id]
        self.admission.leave(job.id, job.user, was_waiting=job.state == "queued")
        out: list[Effect] = [Emit(job.listener, event)]
        if job.audio is not None or job.state == "running":
            out.append(ReleaseJob(job.id))
        out += self._admit()
        for group in freed:
            out += self._freed(group)
        return out
