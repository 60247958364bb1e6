"""The CRI log format as the cri runtime reads it (no daemon): records to lines,
partial records joined, both runtimes' time forms, a terminal's CRLF, tail, since,
following a file until the container stops and across a rotation."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from navarch.runtime.types import STDERR, STDOUT, LogLine, LogOptions
from navarch_runtime_cri.logs import LogParser, parse_time, read_log

T0 = "2026-11-28T06:53:03.123456789Z"


def test_times_of_containerd_and_cri_o() -> None:
    utc = dt.datetime(2026, 11, 28, 6, 53, 3, 123456, tzinfo=dt.UTC).timestamp()
    assert parse_time(T0) == utc
    assert parse_time("2026-11-28T07:53:03.123456789+01:00") == utc  # CRI-O: local time
    assert parse_time("2026-11-28T06:53:03Z") == utc - 0.123456
    assert parse_time("2026-11-28T06:53:03.5Z") == utc - 0.123456 + 0.5


def test_records_become_lines_and_partials_are_joined_per_stream() -> None:
    parser = LogParser()
    data = (
        f"{T0} stdout P first half, \n"
        f"{T0} stderr F err\n"
        f"{T0} stdout F second half\n"
        f"{T0} stdout F \n"
        "garbage without fields\n"
        f"{T0} stdout F unfinished"  # no newline yet: kept for the next feed
    ).encode()
    lines = list(parser.feed(data))
    assert [(line.stream, line.data) for line in lines] == [
        (STDERR, b"err\n"),
        (STDOUT, b"first half, second half\n"),
        (STDOUT, b"\n"),
    ]
    assert [line.data for line in parser.feed(b"\n")] == [b"unfinished\n"]


def test_a_terminal_gets_its_crlf_back() -> None:
    parser = LogParser(terminal=True)
    data = f"{T0} stdout F one\n{T0} stdout F two\r\n".encode()
    assert [line.data for line in parser.feed(data)] == [b"one\r\n", b"two\r\n"]


def _record(when: float, text: str) -> bytes:
    stamp = dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    return f"{stamp} stdout F {text}\n".encode()


async def _all(path: Path, options: LogOptions, running: bool = False) -> list[LogLine]:
    async def still() -> bool:
        return running

    return [line async for line in read_log(path, options, still)]


async def test_lines_come_in_time_order_across_streams(tmp_path: Path) -> None:
    """The runtime's two stream readers can write a line after a later line of the
    other stream: lines are given in the order they were read from the process."""
    path = tmp_path / "0.log"
    late = _record(1000.2, "out2")
    early = _record(1000.1, "err1").replace(b" stdout ", b" stderr ")
    path.write_bytes(_record(1000.0, "out1") + late + early)
    lines = await _all(path, LogOptions())
    assert [line.data for line in lines] == [b"out1\n", b"err1\n", b"out2\n"]
    assert [line.data for line in await _all(path, LogOptions(tail=1))] == [b"out2\n"]


async def test_tail_and_since(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"".join(_record(1000.0 + i, f"line {i}") for i in range(5)))
    assert [line.data for line in await _all(path, LogOptions(tail=2))] == [
        b"line 3\n",
        b"line 4\n",
    ]
    assert await _all(path, LogOptions(tail=0)) == []
    since = await _all(path, LogOptions(since=1002.5))
    assert [line.data for line in since] == [b"line 3\n", b"line 4\n"]
    assert await _all(tmp_path / "missing.log", LogOptions()) == []


async def test_follow_reads_on_across_a_rotation_until_the_container_stops(
    tmp_path: Path,
) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(_record(1000.0, "before"))
    state = {"running": True}

    async def running() -> bool:
        return state["running"]

    seen: list[bytes] = []

    async def follow() -> None:
        async for line in read_log(path, LogOptions(follow=True), running):
            seen.append(line.data)

    task = asyncio.create_task(follow())

    async def until(count: int) -> None:
        for _ in range(600):
            if len(seen) >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"only {seen}")

    await until(1)
    with open(path, "ab") as file:
        file.write(_record(1001.0, "appended"))
    await until(2)
    # rotated as the kubelet does: renamed away, the runtime reopens the path
    path.rename(tmp_path / "0.log.1")
    path.write_bytes(_record(1002.0, "after rotation"))
    await until(3)
    with open(path, "ab") as file:
        file.write(_record(1003.0, "last"))
    state["running"] = False
    await asyncio.wait_for(task, 30)
    assert seen == [b"before\n", b"appended\n", b"after rotation\n", b"last\n"]
