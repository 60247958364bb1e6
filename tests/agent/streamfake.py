"""A small in-memory runtime for the streaming tests: containers with log lines that
a test appends to, and exec sessions that understand a few commands:

* ``echo WORDS…``        -> the words on stdout, exit 0
* ``sh -c "exit N"``     -> exit N
* ``warn TEXT``          -> TEXT on stderr, exit 2
* ``cat``                -> stdin echoed on stdout until stdin closes, exit 0
* ``deaf``               -> refuses stdin (the runtime raises), never ends by itself

Only what the streaming server calls is implemented (list_containers, logs, exec).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence

import attrs

from navarch.runtime import (
    STDERR,
    STDOUT,
    ContainerState,
    ContainerStatus,
    LogLine,
    LogOptions,
    NotFound,
    RuntimeFault,
    labels,
)


@attrs.define
class FakeContainer:
    status: ContainerStatus
    lines: list[LogLine] = attrs.field(factory=list)
    exited: bool = False


class FakeSession:
    def __init__(self, command: Sequence[str], tty: bool):
        self.command = list(command)
        self.tty = tty
        self.queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue()
        self.code = 0
        self.resized: list[tuple[int, int]] = []
        self.stdin_closed = asyncio.Event()
        self.closed = False
        self._script = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        name, args = self.command[0], self.command[1:]
        if name == "echo":
            await self.queue.put((STDOUT, (" ".join(args) + "\n").encode()))
        elif name == "sh" and args[:1] == ["-c"] and args[1].startswith("exit "):
            self.code = int(args[1].split()[1])
        elif name == "warn":
            await self.queue.put((STDERR, (" ".join(args) + "\n").encode()))
            self.code = 2
        elif name in ("cat", "deaf"):
            await self.stdin_closed.wait()
        else:
            await self.queue.put((STDERR, f"{name}: not found\n".encode()))
            self.code = 127
        await self.queue.put(None)

    async def write_stdin(self, data: bytes) -> None:
        if self.command[0] == "deaf":
            raise RuntimeFault("the process closed its stdin")
        if self.command[0] == "cat":
            await self.queue.put((STDOUT, data))

    async def close_stdin(self) -> None:
        self.stdin_closed.set()

    async def output(self) -> AsyncIterator[tuple[str, bytes]]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item

    async def resize(self, width: int, height: int) -> None:
        self.resized.append((width, height))

    async def wait(self) -> int:
        await self._script
        return self.code

    async def close(self) -> None:
        self.closed = True
        self._script.cancel()


class FakeRuntime:
    def __init__(self) -> None:
        self.containers: dict[str, FakeContainer] = {}
        self.sessions: list[FakeSession] = []
        self.following = 0  # log streams in follow mode still open

    def add(
        self,
        node: str,
        namespace: str,
        pod: str,
        container: str,
        attempt: int = 0,
        lines: Sequence[str] = (),
        *,
        uid: str = "uid-1",
        running: bool = True,
    ) -> str:
        cid = f"{pod}-{container}-{attempt}-{uid}"
        state = ContainerState.RUNNING if running else ContainerState.EXITED
        status = ContainerStatus(
            id=cid,
            name=container,
            sandbox_id=f"sandbox-{pod}",
            image="127.0.0.1:5000/app:1",
            state=state,
            labels=labels.container_labels(node, namespace, pod, uid, container, attempt),
            attempt=attempt,
            created_at=time.time(),
            exit_code=None if running else 1,
        )
        fake = FakeContainer(status, exited=not running)
        self.containers[cid] = fake
        base = time.time() - 60
        for index, text in enumerate(lines):
            fake.lines.append(LogLine(base + index, STDOUT, (text + "\n").encode()))
        return cid

    def append(self, cid: str, text: str) -> None:
        self.containers[cid].lines.append(LogLine(time.time(), STDOUT, (text + "\n").encode()))

    def exit(self, cid: str) -> None:
        fake = self.containers[cid]
        fake.exited = True
        fake.status = attrs.evolve(fake.status, state=ContainerState.EXITED, exit_code=0)

    async def list_containers(
        self, labels: Mapping[str, str] | None = None, sandbox_id: str | None = None
    ) -> list[ContainerStatus]:
        from navarch.runtime.labels import matches

        return [c.status for c in self.containers.values() if matches(c.status.labels, labels)]

    async def logs(self, container_id: str, options: LogOptions) -> AsyncIterator[LogLine]:
        fake = self.containers.get(container_id)
        if fake is None:
            raise NotFound("container", container_id)
        lines = [line for line in fake.lines if options.since is None or line.time >= options.since]
        if options.tail is not None:
            lines = lines[-options.tail :] if options.tail else []
        for line in lines:
            yield line
        if not options.follow:
            return
        seen = len(fake.lines)
        self.following += 1
        try:
            while True:
                while seen < len(fake.lines):
                    yield fake.lines[seen]
                    seen += 1
                if fake.exited:
                    return
                await asyncio.sleep(0.02)
        finally:
            self.following -= 1

    async def exec(
        self, container_id: str, command: Sequence[str], *, stdin: bool = False, tty: bool = False
    ) -> FakeSession:
        if container_id not in self.containers:
            raise NotFound("container", container_id)
        session = FakeSession(command, tty)
        self.sessions.append(session)
        return session
