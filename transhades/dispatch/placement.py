"""Where a task goes next: a worker now (``Go``), a wait (``Wait``: a slot frees up, a quarantine ends, a paced
credential has room again) or nowhere (``NoWay``). Decisions only; ``JobFlow`` carries them out.

The rules: a task goes to the least-loaded free member of its group. A download goes to the credential with the
most free slots, then the best recent success rate, then the one used least recently. A chunk goes to the first
provider in the job's failover order that is free and not tried yet in this attempt; the local model is the last
resort while a remote provider is only busy, and a user's own choice that is busy is waited for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from transhades.config import DispatcherConfig
from transhades.dispatch.roster import Member, Roster
from transhades.dispatch.routing import CredentialRouter, ProviderRouter
from transhades.dispatch.tasks import (
    CACHE,
    CREDENTIAL_PREFIX,
    FETCH,
    PROVIDER_PREFIX,
    SPEAKERS,
    DownloadTask,
    Job,
    Task,
    TranscribeTask,
)
from transhades.errors import BadInput, ProviderUnavailable, RateLimited, TranshadesError

PROVIDERS_WAIT = "every transcription provider is busy or rate-limited"
CREDENTIALS_WAIT = "every Telegram connection is rate-limited"


@dataclass(frozen=True)
class Go:
    member: Member


@dataclass(frozen=True)
class Wait:
    later: tuple[str, ...] = ()  # the groups that will be back later; when given, the user hears why it waits
    reason: str = ""
    wake: float | None = None  # call ``tick`` after this long (a paced credential)


@dataclass(frozen=True)
class NoWay:
    error: TranshadesError | None  # None: the work is optional (a cache lookup) and is skipped


Decision = Go | Wait | NoWay


class Placement:
    def __init__(self, roster: Roster, providers: ProviderRouter, credentials: CredentialRouter,
                 limits: DispatcherConfig, now: Callable[[], float], jobs: dict[str, Job] | None = None,
                 links_per_user: int = 1) -> None:
        self.jobs = jobs if jobs is not None else {}  # the flow's jobs: whose link each fetch is
        self.links_per_user = links_per_user  # links.per_user: one user's slow links never take every fetcher
        self.roster = roster
        self.providers = providers
        self.credentials = credentials
        self.limits = limits
        self.now = now

    def decide(self, job: Job, task: Task) -> Decision:
        if isinstance(task, DownloadTask):
            return self._download()
        if isinstance(task, TranscribeTask):
            return self._transcription(job, task)
        if task.group == FETCH and self._links_out(job.request.user) >= self.links_per_user:
            return Wait()  # this user's earlier link frees its slot; other users' links go meanwhile
        member = self.pick(task.group)
        if member:
            return Go(member)
        if self.outlook(task.group) in ("busy", "later"):
            return Wait()
        if task.group in (CACHE, SPEAKERS):  # no cache, or nobody to tell speakers apart: route around it
            return NoWay(None)
        if task.group == FETCH:
            return NoWay(BadInput("links are turned off here (links.enabled); send the file itself").because(
                "links_off"))
        return NoWay(ProviderUnavailable("audio preparation is unavailable; the operator has been alerted"))

    def _links_out(self, user: str) -> int:
        """How many of this user's links are being fetched now."""
        return sum(1 for t in self.roster.tickets.values()
                   if t.group == FETCH and (job := self.jobs.get(t.job_id)) is not None and job.request.user == user)

    def pick(self, group: str) -> Member | None:
        now = self.now()
        return None if self.providers.blocked(group, now) else self.roster.least_loaded_free(group, now)

    def outlook(self, group: str) -> str:
        """``usable`` | ``busy`` (every slot taken) | ``later`` (restarting, starting, quarantined, breaker open) |
        ``gone`` (failed, disabled)."""
        if group in self.providers.disabled:
            return "gone"
        now = self.now()
        members = self.roster.group(group)
        if self.pick(group):
            return "usable"
        breaker = self.providers.breaker_of(group)
        if (breaker is None or breaker.state == "closed") and any(m.usable(now) for m in members):
            return "busy"
        if any(m.state in ("starting", "restarting", "running", "quarantined") for m in members):
            return "later"
        return "gone"

    def seconds_until_back(self, groups: tuple[str, ...]) -> float:
        now = self.now()
        deadlines = [m.quarantined_until for g in groups for m in self.roster.group(g)
                     if m.quarantined_until and m.quarantined_until > now]
        return min(deadlines) - now if deadlines else 0.0

    def credential_members(self) -> list[Member]:
        return [m for m in self.roster.members.values() if m.group.startswith(CREDENTIAL_PREFIX)]

    def _download(self) -> Decision:
        now = self.now()
        credentials = self.credential_members()
        ready, paced = self.credentials.split_paced((m for m in credentials if m.free(now)), now)
        if ready:
            return Go(self.credentials.choose(ready, now))
        if paced:  # the first paced session to have room again takes it
            return Wait(wake=self.credentials.wake_after(paced, now))
        if any(m.usable(now) for m in credentials):
            return Wait()  # every session is busy downloading: wait for a slot, never queue behind a flood
        later = tuple(sorted({m.group for m in credentials if self.outlook(m.group) == "later"}))
        if later:
            return Wait(later, CREDENTIALS_WAIT)
        return NoWay(ProviderUnavailable(
            "no Telegram connection is available to download the file; the operator has been alerted"))

    def _survey(self, job: Job, task: TranscribeTask) -> tuple[list[tuple[str, Member]], set[str], list[str]]:
        """The providers not tried yet in this attempt: (free ones with a member each, busy ones, the groups that
        will be back later)."""
        candidates: list[tuple[str, Member]] = []
        busy: set[str] = set()
        later: list[str] = []
        for provider in job.order:
            if provider in task.tried:
                continue
            group = PROVIDER_PREFIX + provider
            member = self.pick(group)
            outlook = "usable" if member else self.outlook(group)
            if member:
                candidates.append((provider, member))
            elif outlook == "busy":
                busy.add(provider)
            elif outlook == "later":
                later.append(group)
        return candidates, busy, later

    def _transcription(self, job: Job, task: TranscribeTask) -> Decision:
        for _ in range(2):
            candidates, busy, later = self._survey(job, task)
            if busy - self.providers.local:  # a remote provider will free up: the local model stays the last resort
                candidates = [c for c in candidates if c[0] not in self.providers.local]
            if job.request.provider in busy:  # the user's choice is busy: wait for it rather than go elsewhere
                candidates = []
            if candidates:
                return Go(self.providers.choose(job.request.provider, candidates))
            if busy or later:  # a slot frees up, or a quarantine ends; either brings it back
                return Wait() if busy else Wait(tuple(later), PROVIDERS_WAIT)
            if not self._next_attempt(job, task):
                break
        return NoWay(self._final_error(job))

    def _next_attempt(self, job: Job, task: TranscribeTask) -> bool:
        """Every provider was tried in this attempt: start the next one, if any is left. Rate limits cost no
        attempt; real failures do."""
        if any(kind != RateLimited.kind for kind in task.tried.values()):
            job.attempts += 1
            if job.attempts > self.limits.retries:
                return False
        if not task.tried:
            return False
        task.tried.clear()
        return True

    @staticmethod
    def _final_error(job: Job) -> TranshadesError:
        error = job.last_error or ProviderUnavailable("no transcription provider is configured or running")
        if not isinstance(error, TranshadesError) or error.kind in ("rate_limited", "internal"):
            error = ProviderUnavailable(f"no transcription provider could take the job: {error}")
        return error
