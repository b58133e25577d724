"""A job and its tasks: the steps a job goes through, one task type per step, and the message each task sends.

A job moves through: cache check (by source key) -> download (a Telegram file) or fetch (a link) -> fingerprint
(SHA-256) -> cache check (by hash) -> prepare audio -> transcribe each chunk. A provider that refuses a chunk as
too large has it split by the audio workers, and the pieces are transcribed. Every step is a *task* placed on a
worker of a *group* (``cache``, ``audio``, ``fetch``, ``credential:<name>``, ``provider:<name>``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

from transhades.errors import TranshadesError
from transhades.media import AudioChunk, LocalFile, PreparedAudio, TelegramFile, WebLink
from transhades.messages import (
    Diarize,
    Download,
    FetchLink,
    Fingerprint,
    JobEvent,
    JobRequest,
    LookupTranscript,
    PrepareAudio,
    SplitChunk,
    Transcribe,
)
from transhades.transcript import Transcript
from transhades.vocabulary.terms import fingerprint

DISPATCHER = "dispatcher"
CREDENTIAL_PREFIX = "credential:"
PROVIDER_PREFIX = "provider:"
AUDIO = "audio"
CACHE = "cache"
FETCH = "fetch"  # the fetcher actors, which download links
SPEAKERS = "speakers"  # the actors that tell speakers apart
SPEAKERS_AUTO_SECONDS = 120.0  # speakers: auto tells them apart in recordings this long or longer


class Step(str, enum.Enum):
    LOOKUP_SOURCE = "lookup_source"
    DOWNLOAD = "download"
    FETCH = "fetch"
    FINGERPRINT = "fingerprint"
    LOOKUP_HASH = "lookup_hash"
    PREPARE = "prepare"
    TRANSCRIBE = "transcribe"
    SPLIT = "split"
    DIARIZE = "diarize"


class StepInfo(NamedTuple):
    group: str  # which workers take it ("" = chosen per task: a provider)
    stage: str | None  # what the user's status message says when it starts
    queue: str  # where it waits for a free slot
    then: Step | None  # the step that follows when it succeeds (None: decided by its result)


STEPS = {
    Step.LOOKUP_SOURCE: StepInfo(CACHE, "checking cache", CACHE, None),
    Step.DOWNLOAD: StepInfo(CREDENTIAL_PREFIX, "downloading", "download", Step.FINGERPRINT),
    Step.FETCH: StepInfo(FETCH, "downloading", FETCH, Step.FINGERPRINT),
    Step.FINGERPRINT: StepInfo(AUDIO, "checking cache", AUDIO, Step.LOOKUP_HASH),
    Step.LOOKUP_HASH: StepInfo(CACHE, "checking cache", CACHE, Step.PREPARE),
    Step.PREPARE: StepInfo(AUDIO, "preparing audio", AUDIO, None),
    Step.TRANSCRIBE: StepInfo("", None, "transcribe", None),
    Step.SPLIT: StepInfo(AUDIO, None, AUDIO, None),
    Step.DIARIZE: StepInfo(SPEAKERS, "telling speakers apart", SPEAKERS, None),
}


# ------------------------------------------------------------------------------------------------- the job


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
    delivered: int = 0  # parts of the transcript already sent on as Partial, in order
    ranges: int = 0  # a large file fetched in ranges: how many, and how many are not done yet
    ranges_left: int = 0
    early: str = ""  # preparation started while downloading: running | done | failed
    early_audio: PreparedAudio | None = None  # its result, until the cache by hash has missed
    missed: bool = False  # the cache by hash missed: the job needs the audio

    @property
    def id(self) -> str:
        return self.request.id

    @property
    def user(self) -> str:
        return self.request.user

    @property
    def on_disk(self) -> LocalFile:
        """The media as a file on this machine: only asked for once it is (given as a path, or downloaded)."""
        media = self.local or self.request.media
        assert isinstance(media, LocalFile), "a Telegram file is downloaded before it is read"
        return media


@dataclass(frozen=True)
class Context:
    """What the flow adds to a job's own request when it builds a task's message."""

    languages: tuple[str, ...] = ()  # what detection may choose among (config ``languages``)
    max_chunk_bytes: int | None = None  # a chunk must fit wherever it may be sent


# ------------------------------------------------------------------------------------------------- tasks


@dataclass(eq=False)
class Task:
    """One step of one job, and where it is: the worker holding it (by ticket) or nowhere (parked, or about to be
    placed). Compared by identity: two tasks for the same step are two tasks."""

    job_id: str
    group: str = ""
    worker: str | None = None
    ticket: int | None = None
    worker_name: str | None = None  # who answered last
    step: ClassVar[Step]

    def __post_init__(self) -> None:
        self.group = STEPS[self.step].group or self.group

    def message(self, job: Job, ticket: int, context: Context) -> Any:
        raise NotImplementedError


@dataclass(eq=False)
class LookupSourceTask(Task):
    step = Step.LOOKUP_SOURCE

    def message(self, job: Job, ticket: int, context: Context) -> Any:
        return LookupTranscript(ticket, DISPATCHER, lookup_keys(task_key(job.request, job.request.source_key or ""),
                                                                job.request.language), job.request.user)


@dataclass(eq=False)
class DownloadTask(Task):
    step = Step.DOWNLOAD

    def message(self, job: Job, ticket: int, context: Context) -> Any:
        assert isinstance(job.request.media, TelegramFile), "only a Telegram file is downloaded"
        return Download(ticket, DISPATCHER, job.id, job.request.media)


@dataclass(eq=False)
class FetchTask(Task):
    step = Step.FETCH

    def message(self, job: Job, ticket: int, context: Context) -> Any:
        assert isinstance(job.request.media, WebLink), "only a link is fetched"
        return FetchLink(ticket, DISPATCHER, job.id, job.request.media)


PART_BYTES = 1 << 20  # MTProto downloads a file in parts of 1 MiB; ranges are whole parts
RANGE_PARTS = 8  # a large file is fetched in ranges of this many parts, by every session with room
RANGES_ABOVE = 2 * RANGE_PARTS * PART_BYTES  # smaller files (a voice note) stay on one session


@dataclass(eq=False)
class DownloadRangeTask(DownloadTask):
    """One range of a large file: ``count`` parts from part ``first``, written at their place in the file."""

    first: int = field(default=0, kw_only=True)
    count: int = field(default=0, kw_only=True)
    fraction: float = field(default=0.0, kw_only=True)

    def message(self, job: Job, ticket: int, context: Context) -> Any:
        assert isinstance(job.request.media, TelegramFile), "only a Telegram file is downloaded"
        return Download(ticket, DISPATCHER, job.id, job.request.media, (self.first, self.count))


def download_tasks(job: Job, sessions: int) -> list[Task]:
    """One download for a small file; a large one is one task per range, pulled by every session with room (and
    read by the audio preparation as the ranges land, even with a single session)."""
    media = job.request.media
    size = media.size if isinstance(media, TelegramFile) else 0
    if sessions < 1 or size <= RANGES_ABOVE:
        return [DownloadTask(job.id)]
    parts = -(-size // PART_BYTES)
    return [DownloadRangeTask(job.id, first=first, count=min(RANGE_PARTS, parts - first))
            for first in range(0, parts, RANGE_PARTS)]


@dataclass(eq=False)
class FingerprintTask(Task):
    step = Step.FINGERPRINT

    def message(self, job: Job, ticket: int, context: Context) -> Any:
        return Fingerprint(ticket, DISPATCHER, job.on_disk)


@dataclass(eq=False)
class LookupHashTask(Task):
    step = Step.LOOKUP_HASH

    def message(self, job: Job, ticket: int, context: Context) -> Any:
        return LookupTranscript(ticket, DISPATCHER, lookup_keys(task_key(job.request, f"sha256:{job.sha256}"),
                                                                job.request.language), job.request.user)


@dataclass(eq=False)
class PrepareTask(Task):
    step = Step.PREPARE
    follow: bool = field(default=False, kw_only=True)  # started while the file still downloads

    def message(self, job: Job, ticket: int, context: Context) -> Any:
        return PrepareAudio(ticket, DISPATCHER, job.id, job.on_disk, context.max_chunk_bytes,
                            self.follow)


@dataclass(eq=False)
class TranscribeTask(Task):
    step = Step.TRANSCRIBE
    chunk: AudioChunk = field(default=None, kw_only=True)  # type: ignore[assignment]
    tried: dict[str, str] = field(default_factory=dict, kw_only=True)  # provider -> error kind, this attempt
    fraction: float = field(default=0.0, kw_only=True)

    @property
    def provider(self) -> str:
        return self.group[len(PROVIDER_PREFIX):]

    def message(self, job: Job, ticket: int, context: Context) -> Any:
        request = job.request
        languages = context.languages if request.language is None else ()
        # among the expected languages the user's Telegram language counts double; with none configured it is a
        # prior for detection (never a forced choice)
        hint = request.language_hint if request.language is None and (request.language_hint in languages or
                                                                       not languages) else None
        speakers = request.speakers == "on" or request.speakers == "auto" and job.audio is not None and \
            job.audio.duration >= SPEAKERS_AUTO_SECONDS
        return Transcribe(ticket, DISPATCHER, self.chunk, request.language, dict(request.models).get(self.provider),
                          languages, hint, request.task, speakers, request.vocabulary)


@dataclass(eq=False)
class DiarizeTask(Task):
    step = Step.DIARIZE
    transcript: Transcript = field(default=None, kw_only=True)  # type: ignore[assignment]

    def message(self, job: Job, ticket: int, context: Context) -> Any:
        assert job.audio is not None, "speakers are told apart in the prepared audio"
        return Diarize(ticket, DISPATCHER, job.id, job.audio.path, self.transcript, job.request.voices)


def wants_speakers(job: Job, transcript: Transcript) -> bool:
    """Tell this transcript's speakers apart? Asked for (or auto and long enough), and no provider did it."""
    mode = job.request.speakers
    asked = mode == "on" or mode == "auto" and transcript.duration >= SPEAKERS_AUTO_SECONDS
    # a provider's speaker ids hold within one request only: parts sent apart are told apart again, together
    told = any(s.speaker for s in transcript.segments) and (job.audio is None or len(job.audio.chunks) == 1)
    return asked and job.audio is not None and not told


@dataclass(eq=False)
class SplitTask(Task):
    """A chunk a provider refused as too large, to be cut by the audio workers; it keeps the providers tried."""

    step = Step.SPLIT
    chunk: AudioChunk = field(default=None, kw_only=True)  # type: ignore[assignment]
    tried: dict[str, str] = field(default_factory=dict, kw_only=True)

    def message(self, job: Job, ticket: int, context: Context) -> Any:
        return SplitChunk(ticket, DISPATCHER, self.chunk)


TASKS: dict[Step, type[Task]] = {cls.step: cls for cls in (
    LookupSourceTask, DownloadTask, FetchTask, FingerprintTask, LookupHashTask, PrepareTask, TranscribeTask, SplitTask,
    DiarizeTask)}


def first_task(job: Job) -> Task:
    if job.request.source_key:
        return LookupSourceTask(job.id)
    return fetch_or_fingerprint(job)


def fetch_or_fingerprint(job: Job) -> Task:
    if isinstance(job.request.media, TelegramFile) and job.local is None:
        return DownloadTask(job.id)
    if isinstance(job.request.media, WebLink) and job.local is None:
        return FetchTask(job.id)
    return FingerprintTask(job.id)


# ------------------------------------------------------------------------------------------------- cache keys


def task_key(request: JobRequest, base: str) -> str:
    """A translation into English, a transcript with its speakers told apart, and one made with a vocabulary are
    cached apart from the transcript of the same media."""
    key = base if request.task == "transcribe" else f"{request.task}:{base}"
    if request.vocabulary:
        key = f"vocab-{fingerprint(request.vocabulary)}:{key}"
    return key if request.speakers == "off" else f"speakers-{request.speakers}:{key}"


def language_key(base: str, language: str) -> str:
    """The key of a transcript in one language. It does not start with ``sha256:``, so stores count media,
    not languages."""
    return f"lang:{language}:{base}"


def lookup_keys(base: str, language: str | None) -> tuple[str, ...]:
    """A request that fixes a language is answered only by a transcript in that language; one that detects
    takes whatever is cached."""
    return (language_key(base, language),) if language else (base,)


def store_keys(bases: Iterable[str], requested: str | None, detected: str | None) -> tuple[str, ...]:
    """Under each language it is in; under the plain key only when nobody forced its language, so that a request
    that detects never gets a transcript forced into a language the speech may not be in."""
    languages = [lang for lang in dict.fromkeys((requested, detected)) if lang]
    plain = () if requested else (None,)
    return tuple(key for base in bases
                 for key in (*(base for _ in plain), *(language_key(base, lang) for lang in languages)))
