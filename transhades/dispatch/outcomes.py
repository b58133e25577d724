"""What follows a task's answer: the job's next step, another try somewhere else, or the job's end.

The success of each step names what comes next (a cache miss by source key downloads or fingerprints, a download
is fingerprinted, a fingerprint is looked up, a miss by hash is prepared, prepared audio fans out one task per
chunk, the last chunk completes the job). A failure is answered by its kind: a rate limit quarantines the worker's
group and moves the task at once; a provider's repeated failures open its breaker; a rejected key disables the
provider; a chunk too large is split; a cache that cannot answer is a miss; anything else is retried, at most
``retries`` times per job. ``JobFlow`` owns the jobs and carries the results out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from transhades.config import DispatcherConfig
from transhades.dispatch.effects import Alert, Arrived, Effect, Emit
from transhades.dispatch.roster import Member, Roster
from transhades.dispatch.routing import CredentialRouter, FlowMetrics, ProviderRouter
from transhades.dispatch.tasks import (
    DiarizeTask,
    DownloadRangeTask,
    DownloadTask,
    FingerprintTask,
    Job,
    LookupHashTask,
    LookupSourceTask,
    PrepareTask,
    SplitTask,
    Step,
    Task,
    TranscribeTask,
    fetch_or_fingerprint,
    wants_speakers,
)
from transhades.errors import (
    BadInput,
    ProviderRejectedKey,
    ProviderUnavailable,
    RateLimited,
    TranshadesError,
    UploadTooLarge,
)
from transhades.messages import Failed, HeardVoices, Labelled, Partial, Stage
from transhades.transcript import Transcript, stitch

log = logging.getLogger(__name__)


class Flow(Protocol):
    """What outcomes need from the flow that owns the jobs (``JobFlow``)."""

    jobs: dict[str, Job]
    roster: Roster
    metrics: FlowMetrics
    credentials: CredentialRouter
    providers: ProviderRouter
    limits: DispatcherConfig
    now: Callable[[], float]

    def start(self, job: Job, task: Task) -> list[Effect]: ...  # a new step: the user hears its stage
    def add(self, job: Job, task: Task) -> list[Effect]: ...  # one more task of the job, placed
    def swap(self, job: Job, old: Task, new: Task) -> Task: ...
    def place(self, task: Task) -> list[Effect]: ...
    def unpark(self) -> list[Effect]: ...
    def quarantine(self, group: str, error: TranshadesError, seconds: float | None = None,
                   reason: str | None = None) -> list[Effect]: ...
    def complete(self, job: Job, transcript: Transcript, cached: bool, voices: HeardVoices = ()) -> list[Effect]: ...
    def finish(self, job: Job, event: Any, count: bool = True) -> list[Effect]: ...

LOOKUPS = (LookupSourceTask, LookupHashTask)


class Outcomes:
    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.metrics, self.credentials, self.providers = flow.metrics, flow.credentials, flow.providers
        self.now, self.limits = flow.now, flow.limits
        self._done = {Step.LOOKUP_SOURCE: self._looked_up, Step.LOOKUP_HASH: self._looked_up,
                      Step.DOWNLOAD: self._downloaded, Step.FETCH: self._fetched, Step.FINGERPRINT: self._fingerprinted,
                      Step.PREPARE: self._prepared, Step.TRANSCRIBE: self._transcribed, Step.SPLIT: self._split,
                      Step.DIARIZE: self._diarized}

    def done(self, job: Job, task: Task, result: Any) -> list[Effect]:
        """``task`` (already off its worker and out of the job's list) succeeded with ``result``."""
        return self._done[task.step](job, task, result)

    def failed(self, task: Task, error: TranshadesError) -> list[Effect]:
        return self._failed(task, error)

    def lost(self, member: Member) -> list[Effect]:
        """``member`` died holding tasks: each is placed again or, past the retries, fails its job."""
        return self._worker_lost(member)

    def _looked_up(self, job: Job, task: Task, found: Transcript | None) -> list[Effect]:
        if found is not None:
            self.metrics.count("cache_hits")
            return self.flow.complete(job, found, cached=True)
        if isinstance(task, LookupSourceTask):
            return self.flow.start(job, fetch_or_fingerprint(job))
        self.metrics.count("cache_misses")
        job.missed = True
        if job.early == "done":  # prepared while downloading, already
            return self._prepared(job, task, job.early_audio)
        if job.early == "running":
            return []  # it comes when the preparation that reads the download is done
        return self.flow.start(job, PrepareTask(job.id))

    def _downloaded(self, job: Job, task: Task, local: Any) -> list[Effect]:
        self.credentials.record(task.worker_name, True, self.now())
        out: list[Effect] = []
        if isinstance(task, DownloadRangeTask):
            out.append(Arrived(job.id, job.request.media.size, task.first, task.count))  # type: ignore[union-attr]
            if not job.early:  # convert while downloading: preparation reads the ranges in order as they land
                job.local, job.early = local, "running"
                out += self.flow.add(job, PrepareTask(job.id, follow=True))
            job.ranges_left -= 1
            if job.ranges_left:
                return out  # the other ranges are still on their way
        job.local = local
        return out + self.flow.start(job, FingerprintTask(job.id))

    def _fetched(self, job: Job, task: Task, local: Any) -> list[Effect]:
        job.local = local
        return self.flow.start(job, FingerprintTask(job.id))

    def _fingerprinted(self, job: Job, task: Task, sha256: Any) -> list[Effect]:
        job.sha256 = str(sha256)
        return self.flow.start(job, LookupHashTask(job.id))

    def _prepared(self, job: Job, task: Task, audio: Any) -> list[Effect]:
        if isinstance(task, PrepareTask) and task.follow:
            job.early = "done"
            if not job.missed:  # the cache by hash may still answer: keep it until then
                job.early_audio = audio
                return []
        job.audio = audio
        job.open_chunks = len(audio.chunks)
        out: list[Effect] = [Emit(job.listener, Stage(job.id, "transcribing", 1, len(audio.chunks), 0.0))]
        for chunk in audio.chunks:
            if job.id not in self.flow.jobs:
                break
            out += self.flow.add(job, TranscribeTask(job.id, chunk=chunk))
        return out

    def _transcribed(self, job: Job, task: Task, text: Transcript) -> list[Effect]:
        assert isinstance(task, TranscribeTask)
        breaker = self.providers.breaker_of(task.group)
        was_closed = breaker.state == "closed"
        breaker.succeeded()
        job.finished.append((task.chunk, text))
        job.open_chunks -= 1
        out = [] if was_closed else self.flow.unpark()  # a passed trial lets the waiting tasks through
        if not job.open_chunks:
            whole = stitch(job.finished)
            if wants_speakers(job, whole):
                return out + self.flow.start(job, DiarizeTask(job.id, transcript=whole))
            return out + self.flow.complete(job, whole, cached=False)
        return out + self._partial(job)

    @staticmethod
    def _partial(job: Job) -> list[Effect]:
        """The text so far, when the parts done from the start on grew: users read long recordings as they go."""
        chunks = job.audio.chunks if job.audio is not None else ()
        pending = [t.chunk.offset for t in job.tasks if isinstance(t, (TranscribeTask, SplitTask))]
        done = 0
        for index, chunk in enumerate(chunks):
            until = chunks[index + 1].offset if index + 1 < len(chunks) else float("inf")
            if any(chunk.offset <= offset < until for offset in pending):
                break
            done = index + 1
        if done <= job.delivered:
            return []
        job.delivered = done
        until = chunks[done].offset if done < len(chunks) else float("inf")
        ready = [(chunk, text) for chunk, text in job.finished if chunk.offset < until]
        return [Emit(job.listener, Partial(job.id, stitch(ready), done, len(chunks)))]

    @staticmethod
    def decoding(job: Job, task: Task, text: Transcript) -> list[Effect]:
        """A chunk's text so far, as it is decoded: shown after the parts done before it, when it is the next one
        in order (a later chunk's words would read out of place)."""
        chunks = job.audio.chunks if job.audio is not None else ()
        assert isinstance(task, TranscribeTask)
        if len(chunks) <= 1:
            return [Emit(job.listener, Partial(job.id, stitch([(task.chunk, text)]), 0, 1))]
        if job.delivered >= len(chunks) or chunks[job.delivered].offset != task.chunk.offset:
            return []
        until = chunks[job.delivered].offset
        ready = [(chunk, done) for chunk, done in job.finished if chunk.offset < until]
        return [Emit(job.listener, Partial(job.id, stitch([*ready, (task.chunk, text)]), job.delivered,
                                           len(chunks)))]

    def _diarized(self, job: Job, task: Task, labelled: Any) -> list[Effect]:
        """The transcript with its speakers (None: nobody could tell them apart; the words are not held back)."""
        assert isinstance(task, DiarizeTask)
        if isinstance(labelled, Labelled):
            return self.flow.complete(job, labelled.transcript, cached=False, voices=labelled.voices)
        return self.flow.complete(job, labelled if labelled is not None else task.transcript, cached=False)

    def _split(self, job: Job, task: Task, pieces: Any) -> list[Effect]:
        """A provider refused the chunk as too large: its pieces go out instead."""
        pieces = tuple(pieces)
        job.open_chunks += len(pieces) - 1
        out: list[Effect] = []
        for piece in pieces:
            if job.id in self.flow.jobs:
                out += self.flow.add(job, TranscribeTask(job.id, chunk=piece))
        return out

    def _failed(self, task: Task, error: TranshadesError) -> list[Effect]:
        job = self.flow.jobs[task.job_id]
        job.last_error = error
        if isinstance(task, DiarizeTask):  # the words are done: they go out without speakers, never lost
            job.tasks.remove(task)
            log.warning("speakers not told apart (%s); the transcript goes without them", error)
            return self._diarized(job, task, None)
        if isinstance(task, PrepareTask) and task.follow:  # e.g. an mp4 that cannot be read from the start
            job.tasks.remove(task)
            job.early = "failed"
            return self.flow.start(job, PrepareTask(job.id)) if job.missed else []
        if isinstance(task, SplitTask):  # cannot cut it smaller: the whole chunk goes to another provider instead
            again = TranscribeTask(job.id, chunk=task.chunk, tried=task.tried)
            return self.flow.place(self.flow.swap(job, task, again))
        if isinstance(error, BadInput):
            return self.flow.finish(job, Failed(job.id, error))
        if isinstance(task, LOOKUPS):
            job.tasks.remove(task)  # a cache that cannot answer is a miss, never a failed job
            return self._looked_up(job, task, None)
        if isinstance(task, TranscribeTask):
            return self._provider_failed(job, task, error)
        if isinstance(task, DownloadTask):
            self.credentials.record(task.worker_name, False, self.now())
            if isinstance(error, RateLimited):  # FloodWait: this credential waits, the job moves on at once
                return self.flow.quarantine(task.group, error) + self.flow.place(task)
        return self._retry_or_fail(job, task, error)

    def _provider_failed(self, job: Job, task: TranscribeTask, error: TranshadesError) -> list[Effect]:
        """Quarantine, breaker, disable or split as the error says; then the chunk goes on at once."""
        provider = task.provider
        task.tried[provider] = error.kind
        out: list[Effect] = []
        if isinstance(error, RateLimited):
            out += self.flow.quarantine(task.group, error)
        elif isinstance(error, ProviderUnavailable):
            opened = self.providers.breakers[provider].failed(self.now(), error.retry_after)
            if opened:
                out += self.flow.quarantine(task.group, error, opened, f"circuit open: {error.message}")
        elif isinstance(error, ProviderRejectedKey) and self.providers.disable(task.group, error.message):
            out.append(Alert(f"{error.message}; {provider} is disabled until restart"))
        elif isinstance(error, UploadTooLarge):
            split = SplitTask(job.id, chunk=task.chunk, tried=task.tried)
            return out + self.flow.place(self.flow.swap(job, task, split))
        return out + self.flow.place(task)

    def _worker_lost(self, member: Member) -> list[Effect]:
        out: list[Effect] = []
        for task in self.flow.roster.lose(member):
            job = self.flow.jobs.get(task.job_id)
            if job is None:
                continue
            if isinstance(task, LOOKUPS):  # a cache that died answered nothing: a miss
                job.tasks.remove(task)
                out += self._looked_up(job, task, None)
            else:
                out += self._retry_or_fail(job, task, None, crashed=member.name)
        return out

    def _retry_or_fail(self, job: Job, task: Task, error: TranshadesError | None, crashed: str = "") -> list[Effect]:
        job.crashes += 1
        if job.crashes > self.limits.retries:
            # the retry budget: a job survives ``retries`` crashes of the workers handling it; the next fails it
            # with an honest reply (a job that keeps crashing workers is likely to crash the next one too)
            reason = error or ProviderUnavailable(
                f"internal error: {crashed or 'a worker'} stopped while handling this job "
                f"{job.crashes} times; the operator has been alerted").because("internal")
            return self.flow.finish(job, Failed(job.id, reason))
        return self.flow.place(task)

