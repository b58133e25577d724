"""Every message the actors exchange, in one module, typed.

Requests to workers carry a ``ticket`` (unique per send) and ``reply_to`` (a registry name). Workers answer
with :class:`TaskDone`, :class:`TaskFailed` or :class:`TaskProgress` carrying the same ticket; the dispatcher
ignores a ticket it no longer waits for, which makes re-sending after a crash safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from transhades.errors import TranshadesError
from transhades.media import AudioChunk, LocalFile, PreparedAudio, TelegramFile, WebLink
from transhades.snapshot import FlowStatus
from transhades.transcript import Transcript

Media = LocalFile | TelegramFile | WebLink

# --------------------------------------------------------------------------------------- client -> dispatcher


HeardVoices = tuple[tuple[str, tuple[float, ...]], ...]  # (speaker "1", "2"…, the unit vector of that voice)


@dataclass(frozen=True, slots=True)
class JobRequest:
    id: str
    user: str
    media: Media
    source_key: str | None = None  # e.g. Telegram's file_unique_id, checked before any download
    provider: str | None = None  # the user's chosen provider, tried first
    language: str | None = None  # None = detect
    models: tuple[tuple[str, str], ...] = ()  # (provider, model) overrides, e.g. Deepgram's whisper
    language_hint: str | None = None  # e.g. the user's Telegram language; counts only among config languages
    task: str = "transcribe"  # or "translate": Whisper's own translation into English (local models only)
    speakers: str = "off"  # on | auto (recordings of two minutes or more) | off: who said what
    voices: bool = False  # the chat remembers voices: each speaker's voice comes back with the transcript
    vocabulary: tuple[str, ...] = ()  # names and terms to spell right (transhades.vocabulary): the chat's and config's


@dataclass(frozen=True, slots=True)
class SubmitJob:
    request: JobRequest
    listener: Callable[[JobEvent], None]


@dataclass(frozen=True, slots=True)
class CancelJob:
    job_id: str


@dataclass(frozen=True, slots=True)
class Wake:
    """The dispatcher's own wake-up: work that waited for a moment (a paced credential) may go now."""


@dataclass(frozen=True, slots=True)
class GetStatus:
    """Ask-only (from outside the actor system): returns a status snapshot."""


# ---------------------------------------------------------------------------------------- dispatcher -> client


@dataclass(frozen=True, slots=True)
class Queued:
    job_id: str
    position: int  # 1 = next to start


@dataclass(frozen=True, slots=True)
class Stage:
    job_id: str
    stage: str  # "checking cache" | "preparing audio" | "transcribing"
    part: int = 0
    parts: int = 0
    fraction: float | None = None  # 0..1 of the current stage, when known


@dataclass(frozen=True, slots=True)
class Waiting:
    job_id: str
    seconds: float  # until the earliest provider or credential is back
    reason: str


@dataclass(frozen=True, slots=True)
class Completed:
    job_id: str
    transcript: Transcript
    cached: bool
    voices: HeardVoices = ()  # when the request asked for them


@dataclass(frozen=True, slots=True)
class Failed:
    job_id: str
    error: TranshadesError


@dataclass(frozen=True, slots=True)
class Partial:
    """The transcript so far of a recording cut into parts: parts 1..``done`` of ``parts`` are transcribed (the
    ones after may be too). Sent each time that prefix grows; the final Completed is unchanged."""

    job_id: str
    transcript: Transcript
    done: int
    parts: int


JobEvent = Queued | Stage | Waiting | Partial | Completed | Failed

# ---------------------------------------------------------------------------------------- dispatcher -> workers


@dataclass(frozen=True, slots=True)
class LookupTranscript:
    ticket: int
    reply_to: str
    keys: tuple[str, ...]
    owner: str | None = None  # the user asking: a hit makes the entry theirs too (erased with the last owner)


@dataclass(frozen=True, slots=True)
class CacheStats:
    """Ask, or tell with ``reply_to``: {"items", "hits", "misses"} of the cache actor's store, sent back as a
    CacheReport carrying ``context``."""

    reply_to: str | None = None
    context: Any = None


@dataclass(frozen=True, slots=True)
class CacheReport:
    context: Any
    stats: dict


@dataclass(frozen=True, slots=True)
class StoreTranscript:
    keys: tuple[str, ...]
    transcript: Transcript
    owner: str | None = None  # the user whose media it was made from


@dataclass(frozen=True, slots=True)
class ForgetOwner:
    """Bot -> cache: erase this user's share of the cache (entries nobody else received go); the count is told
    back as a CacheReport carrying ``context``."""

    owner: str
    reply_to: str | None = None
    context: Any = None


@dataclass(frozen=True, slots=True)
class Download:
    """Fetch a Telegram file into the job's directory (resuming a partial file left by another credential), or
    with ``part`` = (first 1 MiB chunk, chunks) one range of it, written at its place."""

    ticket: int
    reply_to: str
    job_id: str
    media: TelegramFile
    part: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Diarize:
    """Tell the speakers of a finished transcript apart, from its prepared audio (``transhades.speakers``)."""

    ticket: int
    reply_to: str
    job_id: str
    audio_path: str
    transcript: Transcript
    voices: bool = False  # answer a Labelled with each speaker's voice, not only the transcript


@dataclass(frozen=True, slots=True)
class Labelled:
    """The speakers actor's answer when the voices were asked for: the labelled transcript and, for each of its
    speakers, the unit mean of that voice's embeddings."""

    transcript: Transcript
    voices: HeardVoices


@dataclass(frozen=True, slots=True)
class FetchLink:
    """Download a link's recording into the job's directory (``transhades.links.fetch``: safe by default)."""

    ticket: int
    reply_to: str
    job_id: str
    link: WebLink


@dataclass(frozen=True, slots=True)
class Fingerprint:
    ticket: int
    reply_to: str
    media: LocalFile


@dataclass(frozen=True, slots=True)
class PrepareAudio:
    ticket: int
    reply_to: str
    job_id: str
    media: LocalFile
    max_chunk_bytes: int | None = None
    follow: bool = False  # read the file as its ranges arrive (the download is still going on)


@dataclass(frozen=True, slots=True)
class SplitChunk:
    """Cut a chunk that a provider refused as too large (413) into smaller pieces."""

    ticket: int
    reply_to: str
    chunk: AudioChunk


@dataclass(frozen=True, slots=True)
class Transcribe:
    ticket: int
    reply_to: str
    chunk: AudioChunk
    language: str | None = None
    model: str | None = None  # the user's model for this provider, when they chose one
    languages: tuple[str, ...] = ()  # when detecting: choose among these (config ``languages``); empty: any
    hint: str | None = None  # one of ``languages`` to prefer when detection is unsure
    task: str = "transcribe"  # or "translate" (into English; only a local model is asked)
    speakers: bool = False  # tell speakers apart where the provider can (Deepgram); otherwise the speakers actor
    vocabulary: tuple[str, ...] = ()  # each provider is given them its own way (prompt, keyterms, hotwords)


@dataclass(frozen=True, slots=True)
class AskModel:
    """Bot -> the language model actor: translate ``text`` into ``language``, or summarize it in ``language``.
    Answered with a ModelAnswer carrying ``context`` back."""

    reply_to: str
    task: str  # translate | summary
    text: str
    language: str
    context: Any = None


@dataclass(frozen=True, slots=True)
class ModelAnswer:
    context: Any
    text: str | None = None
    error: TranshadesError | None = None


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """Tell-only: the dispatcher answers ``reply_to`` with a StatusReport carrying ``context`` back."""

    reply_to: str
    context: Any = None


@dataclass(frozen=True, slots=True)
class StatusReport:
    context: Any
    status: FlowStatus


# ---------------------------------------------------------------------------------------- telegram


@dataclass(frozen=True, slots=True)
class Incoming:
    """An update (message or callback query) from the receiving session. ``taken`` (a threading.Event) is set
    once the bot has handled it, a job written to the journal included: the session's handler waits for it."""

    update: Any
    taken: Any = None  # a Handover


@dataclass(frozen=True, slots=True)
class Poisoned:
    """An update the bot crashed on every time it was handed over: its sender gets an error reply instead of
    silence, through a path that runs none of the logic that crashed."""

    update: Any


class Handover:
    """Set once the bot has handled an update; ``ok`` False when it crashed on it (the caller hands it again)."""

    def __init__(self) -> None:
        import threading

        self.done = threading.Event()
        self.ok = False

    def settle(self, ok: bool) -> None:
        self.ok = ok
        self.done.set()


@dataclass(frozen=True, slots=True)
class Drain:
    """Shutting down: take no new jobs (write them down and park them). Answered with how many jobs and
    messages are still in flight."""


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    """A job's event as a worker process published it, read by the front from the results stream."""

    entry_id: str
    event: JobEvent


@dataclass(frozen=True, slots=True)
class PublishAgain:
    """To the front's relay, from its event reader once Redis answers again: publish what could not be published
    while it was away; ``lost`` when Redis came back without its data, so every job still waited for goes again."""

    lost: bool = False


@dataclass(frozen=True, slots=True)
class Ping:
    """Asked of any actor: answered once it has finished what it was doing, so everything it told before is
    queued at its receivers by then. The bot answers with how much is still in flight (jobs and messages)."""


@dataclass(frozen=True, slots=True)
class JobUpdate:
    route: Any  # transhades.telegram.desk.Route
    event: JobEvent


@dataclass(frozen=True, slots=True)
class Tick:
    """Look at the outbox again."""


@dataclass(frozen=True, slots=True)
class HistoryWork:
    """Bot -> history: a user's command or button press about their kept transcripts (a telegram Offload)."""

    work: Any


@dataclass(frozen=True, slots=True)
class Deliver:
    """History -> bot: messages to send (the bot's outbox paces them)."""

    items: tuple


@dataclass(frozen=True, slots=True)
class Prune:
    """History, to itself: forget what is older than history.keep_days and the journal's keep time."""


# ---------------------------------------------------------------------------------------- workers -> dispatcher


@dataclass(frozen=True, slots=True)
class TaskDone:
    ticket: int
    worker: str
    result: Any  # Transcript | None (cache miss) | str (sha256) | PreparedAudio


@dataclass(frozen=True, slots=True)
class TaskFailed:
    ticket: int
    worker: str
    error: TranshadesError


@dataclass(frozen=True, slots=True)
class TaskProgress:
    ticket: int
    fraction: float
    text: Transcript | None = None  # a provider decoding as it goes: the text so far of its chunk


# ---------------------------------------------------------------------------------------- supervision


@dataclass(frozen=True, slots=True)
class ChildExited:
    name: str
    generation: int
    crashed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class RestartDue:
    name: str
    generation: int


@dataclass(frozen=True, slots=True)
class QuarantineGroup:
    """Hold every child of ``group`` out of work for ``seconds`` (a rate limit, a FloodWait). Not a crash."""

    group: str
    seconds: float
    reason: str


@dataclass(frozen=True, slots=True)
class QuarantineOver:
    name: str
    deadline: float


@dataclass(frozen=True, slots=True)
class StopTree:
    """Ask-only: stop every child in reverse start order, then the supervisor; all within ``budget`` seconds
    (each child within its own shutdown time, and none past the budget)."""

    budget: float | None = None


@dataclass(frozen=True, slots=True)
class TreeStatus:
    """Ask-only: a list of child views."""


@dataclass(frozen=True, slots=True)
class MemberView:
    name: str
    group: str
    state: str  # a supervision.ChildState value
    quarantined_until: float | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Membership:
    """The supervisor's whole table, sent to the dispatcher when it (re)starts."""

    members: tuple[MemberView, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class MemberChanged:
    member: MemberView


__all__ = [name for name in dir() if name[0].isupper()] + ["PreparedAudio"]
