"""/status: composed from the dispatcher's and the cache's answers, in the user's language, opening with the
original bot's summary (APIs available, jobs running, cache)."""

from __future__ import annotations

import itertools
import time
from typing import Any

from .texts import say, state_word


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
