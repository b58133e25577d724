"""The dispatcher's brain: a plain object that moves jobs through their steps.

``JobFlow`` receives events (a job submitted, a worker answered, a member of the tree changed state) and returns
*effects* (send this message to that worker, tell this listener, quarantine that group). It does no I/O and starts
no thread, so every rule is tested directly; the dispatcher actor is a shell that feeds it messages and carries out
the effects. It orchestrates plain parts with one job each: ``Admission`` (who runs, who waits), ``Roster`` (who
holds which task, what is parked), ``Placement`` (where a task goes), the routers (provider breakers and
failover order, credential choice and pacing) and ``FlowMetrics``. The steps and their tasks are in ``tasks``.

The flow remembers which worker holds each task; when that worker dies the task is placed again (at most
``retries`` times per job), so no job is lost with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from transhades.config import DispatcherConfig
from transhades.dispatch.admission import Admission
from transhades.dispatch.breaker import ProviderBreaker
from transhades.dispatch.effects import Alert, Effect, Emit, Quarantine, ReleaseJob, Send, WakeUp, Withdraw
from transhades.dispatch.outcomes import Outcomes
from transhades.dispatch.placement import Go, NoWay, Placement, Wait
from transhades.dispatch.roster import Roster
from transhades.dispatch.routing import CredentialRouter, FlowMetrics, ProviderRouter
from transhades.dispatch.tasks import (
    AUDIO,
    CACHE,
    CREDENTIAL_PREFIX,
    DISPATCHER,
    FETCH,
    PROVIDER_PREFIX,
    SPEAKERS,
    STEPS,
    Context,
    DownloadRangeTask,
    DownloadTask,
    Job,
    LookupHashTask,
    LookupSourceTask,
    Step,
    Task,
    TranscribeTask,
    download_tasks,
    first_task,
    store_keys,
    task_key,
)
from transhades.errors import (
    BadInput,
    Cancelled,
    TranshadesError,
)
from transhades.messages import (
    Completed,
    Failed,
    HeardVoices,
    JobEvent,
    JobRequest,
    MemberView,
    Queued,
    Stage,
    StoreTranscript,
    Waiting,
)
from transhades.snapshot import FlowStatus
from transhades.supervision.keeper import Keeper
from transhades.transcript import Transcript

__all__ = ["AUDIO", "CACHE", "CREDENTIAL_PREFIX", "DISPATCHER", "FETCH", "PROVIDER_PREFIX", "SPEAKERS", "Alert", "Emit",
           "JobFlow", "Quarantine", "ReleaseJob", "Send", "WakeUp"]

UNPARK_MISSES = 32  # parked tasks tried in a row without success before a queue is left for later
LOOKUPS = (LookupSourceTask, LookupHashTask)


class JobFlow(Keeper):
    def __init__(self, providers: Iterable[tuple[str, str]], limits: DispatcherConfig, now: Callable[[], float],
                 retry_default: float = 30.0, breakers: dict[str, ProviderBreaker] | None = None,
                 upload_limits: dict[str, int] | None = None, download_slots: int = 2,
                 provider_slots: int = 1, audio_slots: int = 4, downloads_per_minute: int = 0,
                 languages: tuple[str, ...] = (), links_per_user: int = 1) -> None:
        """``providers``: (name, kind) in config order; local-kind providers are moved to the end.
        ``breakers``: per provider name; a provider without one gets the default breaker."""
        self.providers = ProviderRouter(providers, breakers)
        known = [v for v in (upload_limits or {}).values() if v]
        self.context = Context(tuple(languages), min(known) if known else None)
        self.limits = limits
        self.now = now
        self.retry_default = retry_default
        self.jobs: dict[str, Job] = {}
        self.admission = Admission(limits)
        self.roster = Roster({CREDENTIAL_PREFIX: download_slots, PROVIDER_PREFIX: provider_slots, AUDIO: audio_slots,
                              FETCH: 1, SPEAKERS: 1}, owner=lambda task: _user_of(self.jobs, task))
        self.credentials = credentials = CredentialRouter(downloads_per_minute)
        self.placement = Placement(self.roster, self.providers, credentials, limits, now, self.jobs, links_per_user)
        self.metrics = FlowMetrics()
        self.outcomes = Outcomes(self)

    @property
    def languages(self) -> tuple[str, ...]:
        return self.context.languages

    @property
    def max_chunk_bytes(self) -> int | None:
        return self.context.max_chunk_bytes

    @property
    def tickets(self) -> dict[int, Task]:
        return self.roster.tickets

    @property
    def downloads_per_minute(self) -> int:
        return self.credentials.downloads_per_minute

    @downloads_per_minute.setter
    def downloads_per_minute(self, value: int) -> None:
        self.credentials.downloads_per_minute = value

    # ----------------------------------------------------------------------------------- events

    def submit(self, request: JobRequest, listener: Callable[[JobEvent], None]) -> list[Effect]:
        if request.id in self.jobs:
            return []  # the same job submitted twice is one job
        order = self.providers.order_for(request.provider, request.task)
        if order is None or not order and request.task != "transcribe":
            refused = BadInput(self.providers.no_order(request)).because("no_provider")
            return [Emit(listener, Failed(request.id, refused))]
        if request.language is None and len(self.languages) == 1:  # one language allowed: nothing to detect
            request = replace(request, language=self.languages[0])
        job = self.jobs[request.id] = Job(request, listener, order, submitted_at=self.now())
        self.metrics.count("submitted")
        self.admission.enqueue(request.id)
        out = self._admit()
        if job.state == "queued":
            out.append(Emit(listener, Queued(job.id, self.admission.position(job.id))))
        return out

    def cancel(self, job_id: str) -> list[Effect]:
        job = self.jobs.get(job_id)
        return self.finish(job, Failed(job_id, Cancelled("the job was cancelled"))) if job else []

    def task_done(self, ticket: int, result: Any) -> list[Effect]:
        task = self.roster.take(ticket)
        if task is None:
            return []
        job, group = self.jobs[task.job_id], task.group
        job.tasks.remove(task)
        return self.outcomes.done(job, task, result) + self.freed(group)

    def task_failed(self, ticket: int, error: TranshadesError) -> list[Effect]:
        task = self.roster.take(ticket)
        if task is None:
            return []
        group = task.group  # placing the task again moves it to another group
        return self.outcomes.failed(task, error) + self.freed(group)

    def task_progress(self, ticket: int, fraction: float, text: Transcript | None = None) -> list[Effect]:
        task = self.tickets.get(ticket)
        fraction = max(0.0, min(1.0, fraction))
        if isinstance(task, DownloadRangeTask):
            job = self.jobs[task.job_id]
            task.fraction = fraction
            moving = sum(t.fraction for t in job.tasks if isinstance(t, DownloadRangeTask))
            fraction = (job.ranges - job.ranges_left + moving) / job.ranges
        if isinstance(task, DownloadTask):
            job = self.jobs[task.job_id]
            return [Emit(job.listener, Stage(job.id, "downloading", fraction=fraction))]
        if not isinstance(task, TranscribeTask):
            return []
        job = self.jobs[task.job_id]
        task.fraction = fraction
        parts = len(job.finished) + job.open_chunks
        done = len(job.finished) + sum(t.fraction for t in job.tasks if isinstance(t, TranscribeTask))
        partial = self.outcomes.decoding(job, task, text) if text is not None else []
        if partial:  # the words so far, when they continue what the user has read
            return partial
        return [Emit(job.listener, Stage(job.id, "transcribing", min(parts, len(job.finished) + 1), parts,
                                         done / parts))]

    def membership(self, members: Iterable[MemberView]) -> list[Effect]:
        """The whole table, as after a dispatcher restart: forget loads, place every task again."""
        for task in self.roster.reset(members):
            self.roster.park(task)
        return self.unpark()

    def member_changed(self, view: MemberView) -> list[Effect]:
        member, lost = self.roster.change(view)
        return (self.outcomes.lost(member) if lost else []) + self.unpark()

    def tick(self) -> list[Effect]:
        """A wake-up came: the time that work was waiting for has passed."""
        self.credentials.woken()
        return self.unpark([STEPS[Step.DOWNLOAD].queue])

    def status(self) -> FlowStatus:
        now = self.now()
        return FlowStatus(self.admission.active, len(self.admission.waiting), self.limits.max_concurrent_jobs,
                          dict(self.metrics.counters), self.roster.status(now), self.providers.status(),
                          self.credentials.status(now), self.metrics.durations())

    # ----------------------------------------------------------------------------------- placing tasks

    def _admit(self) -> list[Effect]:
        out: list[Effect] = []
        admitted = self.admission.admit(lambda job_id: self.jobs[job_id].user)
        for job_id in admitted:
            job = self.jobs[job_id]
            job.state = "running"
            out += self.start(job, first_task(job))
        if admitted:
            out += [Emit(self.jobs[job_id].listener, Queued(job_id, n)) for job_id, n in self.admission.positions()]
        return out

    def start(self, job: Job, task: Task) -> list[Effect]:
        stage = STEPS[task.step].stage
        out: list[Effect] = [Emit(job.listener, Stage(job.id, stage))] if stage else []
        if not isinstance(task, DownloadTask):
            return out + self.add(job, task)
        tasks = download_tasks(job, len(self.placement.credential_members()))
        job.ranges = job.ranges_left = len(tasks) if len(tasks) > 1 else 0
        for each in tasks:
            if job.id in self.jobs:
                out += self.add(job, each)
        return out

    def add(self, job: Job, task: Task) -> list[Effect]:
        job.tasks.append(task)
        return self.place(task)

    @staticmethod
    def swap(job: Job, old: Task, new: Task) -> Task:
        job.tasks[job.tasks.index(old)] = new
        return new

    def place(self, task: Task) -> list[Effect]:
        job = self.jobs[task.job_id]
        decision = self.placement.decide(job, task)
        if isinstance(decision, Go):
            if isinstance(task, (DownloadTask, TranscribeTask)):
                job.waiting_told = False  # tell the user again if it has to wait again later
            ticket = self.roster.assign(task, decision.member)
            if isinstance(task, TranscribeTask):
                self.providers.breaker_of(task.group).sent()
            return [Send(decision.member.name, task.message(job, ticket, self.context))]
        if isinstance(decision, Wait):
            self.roster.park(task)  # a slot frees up, a quarantine ends or a wake-up comes; each brings it back
            out: list[Effect] = [] if decision.wake is None else [WakeUp(decision.wake)]
            return out + (self._tell_waiting(job, decision) if decision.later else [])
        assert isinstance(decision, NoWay)
        if decision.error is None:  # no cache at all: route around it
            job.tasks.remove(task)
            return self.outcomes.done(job, task, None)
        return self.finish(job, Failed(job.id, decision.error))

    def _tell_waiting(self, job: Job, wait: Wait) -> list[Effect]:
        if job.waiting_told:
            return []
        job.waiting_told = True
        return [Emit(job.listener, Waiting(job.id, self.placement.seconds_until_back(wait.later), wait.reason))]

    def unpark(self, queues: Iterable[str] | None = None, slots: int | None = None) -> list[Effect]:
        """Place parked tasks again, users taking turns (``FairQueue``), each user's oldest first, until ``slots`` of
        them went out (one freed slot takes one task) or many in a row still could not go (the rest wait for the next
        freed slot)."""
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
                out += self.place(task)
                if task.ticket is not None or task.job_id not in self.jobs:
                    placed, misses = placed + 1, 0
                else:
                    misses += 1
        return out

    def freed(self, group: str) -> list[Effect]:
        """A slot in ``group`` came free: the tasks waiting for that kind of work may go."""
        return self.unpark([self.roster.queue_freed_by(group)], slots=1)

    def quarantine(self, group: str, error: TranshadesError, seconds: float | None = None,
                    reason: str | None = None) -> list[Effect]:
        seconds = seconds or getattr(error, "retry_after", None) or self.retry_default
        self.roster.quarantine(group, self.now() + seconds)
        return [Quarantine(group, seconds, reason or error.message)]

    # ----------------------------------------------------------------------------------- the end of a job

    def complete(self, job: Job, transcript: Transcript, cached: bool, voices: HeardVoices = ()) -> list[Effect]:
        bases = tuple(task_key(job.request, k) for k in (job.request.source_key, job.sha256 and f"sha256:{job.sha256}")
                      if k)
        keys = store_keys(bases, job.request.language, transcript.language)
        out: list[Effect] = []
        if keys and (not cached or job.request.source_key and job.sha256):
            member = self.placement.pick(CACHE)
            if member:
                out.append(Send(member.name, StoreTranscript(keys, transcript, job.request.user)))
        self.metrics.count("completed")
        return out + self.finish(job, Completed(job.id, transcript, cached, voices), count=False)

    def finish(self, job: Job, event: JobEvent, count: bool = True) -> list[Effect]:
        if count and isinstance(event, Failed):
            self.metrics.count("failed")
        self.metrics.job_took(max(0.0, self.now() - job.submitted_at))
        freed = {task.group for task in job.tasks if task.ticket is not None}
        withdrawn = tuple(task.ticket for task in job.tasks if task.ticket is not None)
        for task in job.tasks:
            if task.ticket is not None:
                self.roster.take(task.ticket)
        job.tasks.clear()
        del self.jobs[job.id]
        self.admission.leave(job.id, job.user, was_waiting=job.state == "queued")
        out: list[Effect] = [Emit(job.listener, event), *((Withdraw(withdrawn),) if withdrawn else ())]
        if job.audio is not None or job.state == "running":
            out.append(ReleaseJob(job.id))
        out += self._admit()
        for group in freed:
            out += self.freed(group)
        return out


def _user_of(jobs: dict[str, Job], task: Task) -> str:
    """Whose a task is (users take turns at each kind of work)."""
    job = jobs.get(task.job_id)
    return job.request.user if job is not None else ""
