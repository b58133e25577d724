"""``transhades simulate``: the real supervisor, dispatcher, cache, audio, provider, credential and bot actors
against an in-process Telegram and simulated providers, with faults injected on purpose, and an account of what
every user got back: lost jobs (no final reply) and duplicate replies must both be zero.
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transhades import config as config_lib
from transhades.devtools.chaos import Faults
from transhades.devtools.doubles import InstantPreparer, percentile
from transhades.errors import ProviderUnavailable, RateLimited
from transhades.media import AudioChunk
from transhades.transcript import Segment, Transcript

FAILURE_PREFIX = "Could not transcribe"
UPDATE_WORKERS = 4  # handlers running at once in the receiving session
TIME_SCALE = 4  # one real second stands for this many simulated ones (sending limits, waits)


@dataclass
class Options:
    jobs: int = 200
    users: int = 50
    credentials: int = 3
    providers: int = 2
    crash_rate: float = 0.0
    flood_rate: float = 0.0
    provider_error_rate: float = 0.0
    duplicate_rate: float = 0.0
    seed: int = 0
    download_seconds: float = 0.02
    timeout: float = 300.0  # at least; a large run gets 0.3 s per job (a job not answered by then is lost)


def flaky_providers(rate: float, seed: int):
    """Providers that answer at once, except when they rate-limit (429), fail (5xx) or time out."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def factory(cfg: Any, data_dir: Path) -> Any:
        class Flaky:
            name = cfg.name

            def transcribe(self, chunk: AudioChunk, language: Any, progress: Any = None, model: Any = None,
                           languages: Any = (), hint: Any = None, speakers: bool = False,
                           vocabulary: tuple[str, ...] = ()):
                with lock:
                    roll, kind = rng.random(), rng.random()
                if roll < rate:
                    if kind < 0.4:
                        # simulated time runs faster than Groq's real resets (tens of seconds)
                        raise RateLimited(f"{cfg.name}: 429 (simulated)", rng.choice((0.2, 0.5, 1.0)))
                    if kind < 0.8:
                        raise ProviderUnavailable(f"{cfg.name}: 503 (simulated)")
                    time.sleep(0.05)
                    raise ProviderUnavailable(f"{cfg.name}: no answer within the timeout (simulated)")
                return Transcript(f"transcript of {Path(chunk.path).parent.name}", "en", chunk.duration, cfg.name,
                                  (Segment(0.0, chunk.duration, "simulated"),))

            def close(self) -> None:
                pass

        return Flaky()

    return factory


def run(options: Options) -> dict[str, Any]:
    from transhades.app.tree import start_tree
    from transhades.telegram.fake import FakeGateway, FakeTelegram

    world = FakeTelegram(bytes_per_second=4_000 / options.download_seconds)
    world.rng = random.Random(options.seed + 1)
    world.flood_rate, world.storm_seconds = options.flood_rate, (1, 1, 2, 3)
    faults = Faults(options.crash_rate, options.seed + 2)
    with tempfile.TemporaryDirectory(prefix="transhades-simulate-") as directory:
        tmp = Path(directory)
        cfg = config_lib.parse(_config(options, tmp), env={})
        tree = start_tree(cfg, provider_factory=flaky_providers(options.provider_error_rate, options.seed + 3),
                          preparer=InstantPreparer(), faults=faults,
                          gateway_factory=lambda c, r: FakeGateway(world, c.name, tmp / "sessions", r))
        try:
            _wait_until(lambda: world.receiver is not None and len(world.logins) >= options.credentials, 10)
            started = time.monotonic()
            submitted = _send(options, world, tree)
            _wait_until(lambda: len(_finals(world, submitted)) >= len(submitted) or bool(tree.stopped_reason),
                        max(options.timeout, 0.3 * options.jobs), step=0.05)
            time.sleep(0.5)  # anything sent twice would arrive now
            finals = _finals(world, submitted)
            elapsed = max((t for replies in finals.values() for _, t in replies), default=time.monotonic()) - started
            status = _status(tree)
            stopped = tree.stopped_reason[:1] or ([] if status else ["the supervisor is gone and gave no reason"])
        finally:
            tree.stop()
    result = _account(options, world, submitted, finals, elapsed, status, faults)
    if stopped:
        result["tree_stopped"] = stopped[0]
    return result


def _status(tree: Any) -> dict[str, dict[str, Any]]:
    """Each child's status; none when the tree stopped (its reason is in ``tree.stopped_reason``)."""
    import pykka

    if tree.stopped_reason:
        return {}
    try:
        return {s["name"]: s for s in tree.status()}
    except (pykka.ActorDeadError, pykka.Timeout):
        return {}


def _config(options: Options, tmp: Path) -> dict[str, Any]:
    return {
        "providers": [{"name": f"sim{i}", "kind": "openai", "base_url": "http://127.0.0.1:9", "api_key": "k",
                       "instances": 2, "breaker_failures": 5, "breaker_seconds": 1}
                      for i in range(1, options.providers + 1)],
        "cache": {"backend": "memory"},
        "dispatcher": {"max_concurrent_jobs": 200, "per_user_limit": 10, "retries": 3},
        "audio": {"workers": 2, "temp_dir": str(tmp / "tmp")},
        "supervision": {"max_restarts": 100_000, "within_seconds": 60,  # chaos is not a crash loop
                        "backoff": {"min_seconds": 0.01, "max_seconds": 0.05, "jitter": 0.2}},
        "data_dir": str(tmp / "data"),
        "telegram": {"bot_token": "1:x", "session_dir": str(tmp / "sessions"),
                     "credentials": [{"name": f"API-{i}", "api_id": 1000 + i, "api_hash": "h" * 32}
                                     for i in range(1, options.credentials + 1)],
                     "downloads_per_credential": 2, "send_interval_seconds": 0.0,
                     # simulated time runs faster: Telegram's 30 messages/s stands for 4 simulated seconds' worth
                     "send_per_second": 30 * TIME_SCALE,
                     "edit_interval_seconds": 0.5, "status_delay_seconds": 1.0,
                     "user_jobs_per_minute": 0},  # the simulated users send far faster than people do
    }


def _wait_until(done: Callable[[], bool], seconds: float, step: float = 0.01) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        time.sleep(step)


def _send(options: Options, world: Any, tree: Any) -> dict[int, tuple[int, float, bool]]:
    """The users' messages, some of them forwards of earlier ones; media message id -> (chat, when, duplicate).
    pyrogram runs update handlers on several workers, each waiting for its hand-over; so does this."""
    rng = random.Random(options.seed)
    submitted: dict[int, tuple[int, float, bool]] = {}
    updates = ThreadPoolExecutor(max_workers=UPDATE_WORKERS, thread_name_prefix="updates")
    originals: list[Any] = []
    for _ in range(options.jobs):
        if tree.stopped_reason:
            break  # escalation stopped the tree: what was not sent counts as not submitted
        user = world.user(100_000 + rng.randrange(options.users))
        duplicate = bool(originals) and rng.random() < options.duplicate_rate
        if duplicate:
            message = world.forward(rng.choice(originals), user)
        else:
            message = world.media_message(user, b"OggS" + os.urandom(4_000))
            originals.append(message)
        submitted[message.id] = (user.id, time.monotonic(), duplicate)
        updates.submit(world.deliver, message)
        time.sleep(0.002)
    updates.shutdown(wait=True)
    return submitted


def _finals(world: Any, submitted: dict[int, tuple[int, float, bool]]) -> dict[int, list[tuple[str, float]]]:
    finals: dict[int, list[tuple[str, float]]] = {}
    for sent in list(world.sent):
        if sent.reply_to in submitted and sent.kind == "text" and (
                sent.text.startswith("transcript of") or sent.text.startswith(FAILURE_PREFIX)):
            finals.setdefault(sent.reply_to, []).append((sent.text, sent.at))
        elif sent.kind == "edit" and sent.text.startswith(FAILURE_PREFIX):
            for reply_to in [r for r, s in _status_messages(world).items() if s == sent.message_id]:
                finals.setdefault(reply_to, []).append((sent.text, sent.at))
    return finals


def _status_messages(world: Any) -> dict[int, int]:
    """media message id -> the id of its status message."""
    return {s.reply_to: s.message_id for s in world.sent
            if s.kind == "text" and s.reply_to is not None and not s.text.startswith(("transcript of", FAILURE_PREFIX))}


def _reason(text: str) -> str:
    """A failure reply without what varies between jobs (counts, names), so alike reasons count together."""
    return re.sub(r"\d+", "N", text[len(FAILURE_PREFIX):].removeprefix(" this file:")).strip()[:120]


def _account(options: Options, world: Any, submitted: dict, finals: dict, elapsed: float, status: dict,
             faults: Faults) -> dict[str, Any]:
    completed = sum(1 for replies in finals.values() if replies[0][0].startswith("transcript of"))
    failed = sum(1 for replies in finals.values() if replies[0][0].startswith(FAILURE_PREFIX))
    latencies = [replies[0][1] - submitted[m][1] for m, replies in finals.items()]
    hits = [replies[0][1] - submitted[m][1] for m, replies in finals.items() if submitted[m][2]]
    ideal = _ideal_throughput(options, world, submitted, elapsed)

    def ms(values: list[float], *points: tuple[str, int]) -> dict[str, float | None]:
        return {name: (percentile(values, q) * 1000 if values else None) for name, q in points}  # no NaN in JSON

    result = {
        "submitted": len(submitted), "completed": completed, "failed": failed,
        "failure_reasons": dict(Counter(_reason(replies[0][0]) for replies in finals.values()
                                        if replies[0][0].startswith(FAILURE_PREFIX)).most_common(5)),
        "lost": len(submitted) - len(finals), "duplicate_replies": sum(len(r) - 1 for r in finals.values()),
        "restarts": sum(s.get("total_restarts", 0) for s in status.values()),
        "crashes_injected": faults.crashes,
        "crashes_by_actor": dict(sorted(faults.by_actor.items())),
        "quarantines": sum(s.get("total_quarantines", 0) for s in status.values()),
        "floods": len(world.flood_waits),
        "refused_repeats": world.refused_repeats,  # sends the fake refused by random_id: duplicates it absorbed
        "throughput_jobs_per_s": len(finals) / elapsed if elapsed else 0.0,
        "ideal_jobs_per_s": ideal,
        "latency_ms": ms(latencies, ("p50", 50), ("p95", 95), ("p99", 99)),
        "failover_ms": ms(_failovers(world), ("p50", 50), ("p99", 99)),
        "cache_hit_ms": ms(hits, ("p50", 50), ("p99", 99)),
        "seconds": elapsed,
        "options": vars(options),
    }
    return result


def _failovers(world: Any) -> list[float]:
    """From each FloodWait to the next download that started streaming: how long work stood still."""
    floods = {f: t for kind, _, f, t in world.timeline if kind == "flood"}
    failovers = []
    for kind, _, f, t in world.timeline:
        if kind == "stream" and f in floods and t >= floods[f]:
            failovers.append(t - floods.pop(f))
    return failovers


def _ideal_throughput(options: Options, world: Any, submitted: dict, elapsed: float) -> float:
    """Every second a credential was not quarantined it could have been downloading (2 at a time)."""
    available = 0.0
    for i in range(1, options.credentials + 1):
        spans = sorted((at, at + wait) for c, at, wait in world.flood_waits if c == f"API-{i}")
        blocked, reach = 0.0, float("-inf")
        for start, end in spans:  # overlapping waits block once
            if end > reach:
                blocked += end - max(start, reach)
                reach = end
        available += max(0.0, elapsed - blocked)
    downloads_per_s = available * 2 / max(options.download_seconds, 1e-6) / max(elapsed, 1e-6)
    downloads_needed = max(1, sum(1 for _, _, duplicate in submitted.values() if not duplicate))
    return downloads_per_s * len(submitted) / downloads_needed  # duplicates need no download
