"""Who is in the cluster: each process announces itself (role, state, jobs, its actors) in one Redis hash every
few seconds; the front reads it for /status and /metrics. A process not heard from for a while is left out, and
its record is deleted once it has been silent ``FORGET_AFTER`` times that long (a killed process never leaves)."""

from __future__ import annotations

import json
import time
from typing import Any

from transhades.snapshot import MemberStatus, ProcessStatus

FORGET_AFTER = 6


class Roll:
    def __init__(self, client: Any, prefix: str, instance: str, role: str, stale_seconds: float = 30.0) -> None:
        self.redis, self.key = client, f"{prefix}:processes"
        self.instance, self.role = instance, role
        self.stale_seconds = stale_seconds

    def announce(self, state: str, jobs: int, capacity: int, children: list[dict[str, Any]]) -> None:
        members = [{k: child.get(k) for k in ("name", "group", "state", "quarantined_for")} for child in children]
        self.redis.hset(self.key, self.instance, json.dumps(
            {"role": self.role, "state": state, "jobs": jobs, "capacity": capacity, "members": members,
             "at": time.time()}))

    def leave(self) -> None:
        self.redis.hdel(self.key, self.instance)

    def everyone(self) -> list[ProcessStatus]:
        now, out = time.time(), []
        for instance, raw in sorted(self.redis.hgetall(self.key).items()):
            name = instance.decode() if isinstance(instance, bytes) else instance
            try:
                record = json.loads(raw)
                seen_ago = max(0.0, now - float(record["at"]))
            except (ValueError, KeyError, TypeError):
                seen_ago = float("inf")  # not a record this version can read
            if seen_ago > self.stale_seconds:
                if seen_ago > FORGET_AFTER * self.stale_seconds:
                    self.redis.hdel(self.key, name)
                continue
            members = tuple(_member(m, seen_ago) for m in record["members"])
            out.append(ProcessStatus(name, record["role"], record["state"], int(record["jobs"]),
                                     int(record.get("capacity", 0)), members, seen_ago))
        return out


def _member(data: dict[str, Any], seen_ago: float) -> MemberStatus:
    left = max(0.0, float(data["quarantined_for"]) - seen_ago) if data.get("quarantined_for") else None
    state = data["state"]
    usable = state == "running" or (state == "quarantined" and not left)
    return MemberStatus(data["name"], data["group"], state, quarantined_for=left or None, usable=usable)
