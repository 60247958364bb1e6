"""Container logs through ``GET /containers/{id}/logs``: always with ``timestamps=1``
(every line's time comes from the engine, the caller renders it or not), both
streams, decoded from the multiplexed framing (or a TTY's single stream)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from navarch.runtime import STDOUT, LogLine, LogOptions, NotFound
from navarch_runtime_docker.engine import Engine, EngineError, path_part
from navarch_runtime_docker.streams import format_time, frames, parse_time, raw_chunks


def _split_entry(stream: str, entry: bytes) -> LogLine | None:
    """One log entry, ``<RFC 3339 time> <data>`` (the engine writes each in one frame)."""
    stamp, _, data = entry.partition(b" ")
    time = parse_time(stamp.decode(errors="replace"))
    if time is None:
        return None
    return LogLine(time=time, stream=stream, data=data)


async def container_logs(
    engine: Engine, container_id: str, options: LogOptions
) -> AsyncIterator[LogLine]:
    try:
        info = await engine.call("GET", f"/containers/{path_part(container_id)}/json")
    except EngineError as err:
        if err.status == 404:
            raise NotFound("container", container_id) from err
        raise
    if options.tail == 0:
        return
    params: dict[str, str | int] = {
        "stdout": 1,
        "stderr": 1,
        "timestamps": 1,
        "follow": int(options.follow),
        "tail": "all" if options.tail is None else options.tail,
    }
    if options.since is not None:
        params["since"] = format_time(options.since)
    # Without follow the engine sends what it has and ends: bound each read then.
    idle = None if options.follow else engine.options.request_timeout_seconds
    try:
        async with engine.stream(
            "GET", f"/containers/{info['Id']}/logs", params=params, idle_timeout=idle
        ) as resp:
            if info["Config"].get("Tty"):
                async for tty_line in _tty_lines(raw_chunks(resp.content.read), options):
                    yield tty_line
                return
            entries = _framed_lines(frames(resp.content.readexactly), options)
            if options.follow:
                async for line in entries:
                    yield line
                return
            # The engine stores stdout and stderr in the order its copiers got to them,
            # which may put a line after a later one of the other stream: without
            # follow the whole answer is here, so it comes back in time order.
            for line in sorted([line async for line in entries], key=lambda line: line.time):
                yield line
    except EngineError as err:
        if err.status == 404:
            raise NotFound("container", container_id) from err
        raise


async def _framed_lines(
    chunks: AsyncIterator[tuple[str, bytes]], options: LogOptions
) -> AsyncIterator[LogLine]:
    async for stream, entry in chunks:
        line = _split_entry(stream, entry)
        if line is not None and (options.since is None or line.time >= options.since):
            yield line


async def _tty_lines(
    chunks: AsyncIterator[tuple[str, bytes]], options: LogOptions
) -> AsyncIterator[LogLine]:
    """A TTY's log has no frames: entries are lines, each starting with its time."""
    pending = b""
    async for _, chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            line = _split_entry(STDOUT, raw + b"\n")
            if line is not None and (options.since is None or line.time >= options.since):
                yield line
    if pending and (last := _split_entry(STDOUT, pending)) is not None:
        yield last
