"""The ranges of a large download as they land on disk, so that audio preparation can read the file in order
while the rest is still coming (ffmpeg then finishes about when the download does).

The dispatcher hears each range done and says so here; an audio worker reads the file through ``blocks``, which
waits for the next range in order. A job that ends (or is cancelled) is forgotten, and a reader still waiting for
it stops at once. In-process only: the download and the audio worker share the job's directory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from transhades.dispatch.tasks import PART_BYTES

READ_BYTES = 1 << 20  # what a reader holds in memory at once


class Abandoned(Exception):
    """The job this file belongs to ended before the file was read."""


@dataclass
class _File:
    size: int
    parts: set[int] = field(default_factory=set)  # 1 MiB parts on disk

    def ready_bytes(self) -> int:
        """How far from the start the file is whole."""
        n = 0
        while n in self.parts:
            n += 1
        return min(self.size, n * PART_BYTES)


class Arrivals:
    def __init__(self) -> None:
        self._files: dict[str, _File] = {}
        self._changed = threading.Condition()

    def arrived(self, job_id: str, size: int, first_part: int, count: int) -> None:
        with self._changed:
            entry = self._files.setdefault(job_id, _File(size))
            entry.parts.update(range(first_part, first_part + count))
            self._changed.notify_all()

    def forget(self, job_id: str) -> None:
        with self._changed:
            self._files.pop(job_id, None)
            self._changed.notify_all()

    def known(self, job_id: str) -> bool:
        with self._changed:
            return job_id in self._files

    def blocks(self, job_id: str, path: Path, timeout: float = 600.0) -> Iterator[bytes]:
        """The file's bytes in order, each as soon as it is on disk. Abandoned when the job ends first, or when
        nothing new arrives for ``timeout`` seconds."""
        at = 0
        with path.open("rb") as source:
            while True:
                with self._changed:
                    entry = self._files.get(job_id)
                    while entry is not None and entry.ready_bytes() <= at < entry.size:
                        if not self._changed.wait(timeout):
                            raise Abandoned(f"no part of job {job_id}'s file arrived for {timeout:g} s")
                        entry = self._files.get(job_id)
                    if entry is None:
                        raise Abandoned(f"job {job_id} ended")
                    ready, size = entry.ready_bytes(), entry.size
                if at >= size:
                    return
                source.seek(at)
                while at < ready:
                    block = source.read(min(READ_BYTES, ready - at))
                    if not block:
                        break
                    at += len(block)
                    yield block
