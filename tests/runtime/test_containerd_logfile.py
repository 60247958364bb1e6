"""The containerd runtime's CRI-format container log: the copier writing it from two
FIFOs with rotation by size, and the reader giving it back across rotations (also
while it is being rotated under a follower). No containerd needed: the test writes
into the FIFOs itself, as the shim would."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from navarch_runtime_containerd.logfile import FifoPair, OutputCopier, Rotation, rotate
from navarch_runtime_containerd.logread import LogReader


def test_rotate_shifts_numbers_and_drops_the_oldest(tmp_path: Path) -> None:
    log = tmp_path / "container.log"
    for generation in range(6):
        log.write_text(f"generation {generation}\n")
        rotate(log, max_files=3)
    # the live file is gone until the copier opens a new one; two rotated kept
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "container.log.1",
        "container.log.2",
    ]
    assert (tmp_path / "container.log.1").read_text() == "generation 5\n"
    assert (tmp_path / "container.log.2").read_text() == "generation 4\n"


def _line(number: int, width: int = 60) -> bytes:
    return (f"{number:06d} ".ljust(width, "x") + "\n").encode()


@pytest.mark.asyncio
async def test_rotated_log_reads_back_whole_and_keeps_at_most_max_files(tmp_path: Path) -> None:
    log = tmp_path / "container.log"
    log.touch()
    fifos = FifoPair(tmp_path, "main")
    copier = OutputCopier(fifos, log, rotation=Rotation(max_bytes=8192, max_files=3))
    stdout = os.open(fifos.paths["stdout"], os.O_WRONLY)
    stderr = os.open(fifos.paths["stderr"], os.O_WRONLY)
    fifos.opened_by_writer()
    follower = LogReader(log)
    followed = []
    # batches of 20 lines (a quarter of a file) and of 150 (almost two files: two
    # rotations while the follower holds a file open), the follower reading between
    written = 0
    for size in [20, 150] * 5 + [30] * 5:
        os.write(stdout, b"".join(_line(written + n) for n in range(size)))
        written += size
        await asyncio.sleep(0.01)  # the copier reads what the pipe holds
        followed += follower.read()
    assert written == 1000
    os.close(stdout)
    os.close(stderr)
    await asyncio.wait_for(copier.done.wait(), 60)
    followed += follower.read() + follower.rest()
    follower.close()

    files = sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("container"))
    assert files == ["container.log", "container.log.1", "container.log.2"]
    assert all((tmp_path / name).stat().st_size < 8192 + 200 for name in files)
    # the follower saw every line once, in order, across the rotations
    numbers = [int(line.data[:6]) for line in followed]
    assert numbers == list(range(1000))
    # a fresh reader sees what is kept: the newest lines, whole and in order
    fresh = LogReader(log)
    kept = [int(line.data[:6]) for line in fresh.read()]
    fresh.close()
    assert kept == list(range(kept[0], 1000)) and kept[0] > 0
