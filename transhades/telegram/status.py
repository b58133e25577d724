"""/status: composed from the dispatcher's and the cache's answers, in the user's language, opening with the
original bot's summary (APIs available, jobs running, cache)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from transhades.snapshot import CREDENTIAL, PROVIDER, CredentialStats, FlowStatus, MemberStatus
from transhades.telegram.texts import say, state_word


class StatusRequests:
    """Each /status waits for two answers (the dispatcher's snapshot, the cache's size); this pairs them up."""

    def __init__(self) -> None:
        self.waiting: dict[int, dict[str, Any]] = {}
        self._numbers = itertools.count(1)

    def wanted(self, chat_id: int, lang: str) -> int:
        number = next(self._numbers)
        self.waiting[number] = {"chat_id": chat_id, "lang": lang}
        return number

    def part(self, number: int, name: str, value: Any) -> dict[str, Any] | None:
        """Record one answer; returns the whole request once both are in."""
        parts = self.waiting.get(number)
        if parts is None:
            return None
        parts[name] = value
        if "status" in parts and "cache" in parts:
            return self.waiting.pop(number)
        return None


def status_report(lang: str, status: FlowStatus, cache: dict[str, Any] | None = None,
                  wall_now: float | None = None) -> str:
    """/status: the original bot's summary first (APIs available, jobs running, cache), then the details."""
    wall_now = time.time() if wall_now is None else wall_now
    credentials = status.members(CREDENTIAL)
    items = cache.get("items", -1) if cache else -1
    cached = say(lang, "status_cache_items", items=items) if items >= 0 else None
    lines = [say(lang, "status_summary", available=sum(m.available for m in credentials), total=len(credentials),
                 running=status.active, max=status.max_active, cache=cached or "?"),
             "", say(lang, "status_credentials")]
    lines += [_credential_line(lang, m, status.credentials.get(m.name, CredentialStats()), wall_now)
              for m in credentials]
    lines.append(say(lang, "status_providers"))
    for name, info in status.providers.items():
        members = status.groups.get(PROVIDER + name, [])
        states = ",".join(sorted({state_word(lang, m.state) for m in members})) or state_word(lang, "absent")
        extra = say(lang, "status_disabled", why=info.disabled) if info.disabled else ""
        lines.append(say(lang, "status_provider", name=name, states=states,
                         breaker=state_word(lang, info.breaker), extra=extra))
    rate = status.cache_hit_rate
    lines.append(say(lang, "status_queue", running=status.active, waiting=status.queued))
    lines.append(say(lang, "status_cache", items=f"{cached}, " if cached else "",
                     rate="n/a" if rate is None else f"{100 * rate:.0f}%",
                     hits=status.count("cache_hits"), misses=status.count("cache_misses")))
    lines.append(say(lang, "status_jobs", done=status.count("completed"), failed=status.count("failed")))
    return "\n".join(lines + _cluster_lines(lang, status))


def _cluster_lines(lang: str, status: FlowStatus) -> list[str]:
    if not status.processes and status.streams is None:
        return []
    lines = ["", say(lang, "status_cluster")]
    lines += [say(lang, "status_process", name=p.instance, role=p.role, state=state_word(lang, p.state), jobs=p.jobs)
              for p in status.processes]
    if status.streams is not None:
        s = status.streams
        lines.append(say(lang, "status_streams", waiting=s.jobs_waiting, pending=s.jobs_pending,
                         results=s.results_pending, dead=s.dead_letters))
    return lines


def _credential_line(lang: str, member: MemberStatus, stats: CredentialStats, wall_now: float) -> str:
    state = state_word(lang, member.state)
    if member.quarantined_for:
        state = say(lang, "status_quarantined",
                    until=time.strftime("%H:%M:%S", time.gmtime(wall_now + member.quarantined_for)))
    return say(lang, "status_credential", name=member.name.split(":", 1)[1], state=state,
               rate=f"{stats.success_rate * 100:.0f}", requests=stats.requests, downloads=stats.downloads)
