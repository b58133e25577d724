"""Reading a file in order while its ranges land out of order, as the preparation of a large download does."""

from __future__ import annotations

import threading

import pytest

from transhades.audio.arrivals import Abandoned, Arrivals
from transhades.dispatch.tasks import PART_BYTES


def test_blocks_come_in_order_as_soon_as_the_ranges_before_them_have_landed(tmp_path):
    data = bytes(range(256)) * (3 * PART_BYTES // 256) + b"tail"
    path = tmp_path / "source"
    path.write_bytes(b"\0" * len(data))
    arrivals = Arrivals()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.extend(arrivals.blocks("j", path)))

    def land(first: int, count: int) -> None:
        with path.open("r+b") as out:
            out.seek(first * PART_BYTES)
            out.write(data[first * PART_BYTES:(first + count) * PART_BYTES])
        arrivals.arrived("j", len(data), first, count)

    land(2, 2)  # the end first: nothing can be read yet
    reader.start()
    reader.join(0.2)
    assert got == [] and reader.is_alive()
    land(0, 1)
    land(1, 1)
    reader.join(5)
    assert not reader.is_alive() and b"".join(got) == data
    assert max(len(b) for b in got) <= PART_BYTES, "memory stays bounded"


def test_a_reader_stops_when_the_job_ends_before_its_file_is_whole(tmp_path):
    path = tmp_path / "source"
    path.write_bytes(b"\0" * (2 * PART_BYTES))
    arrivals = Arrivals()
    arrivals.arrived("j", 2 * PART_BYTES, 0, 1)
    blocks = arrivals.blocks("j", path)
    assert len(next(blocks)) == PART_BYTES
    threading.Timer(0.1, lambda: arrivals.forget("j")).start()
    with pytest.raises(Abandoned):
        next(blocks)
