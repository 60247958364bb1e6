"""The runtime conformance suite's tests of what runs: logs, exec (with stdin, on a
terminal, synchronous, timed out), resources (limits applied, OOM kills), the pod's
shared network and parallel creations. :class:`ProcessConformance` is the base of
:class:`navarch.testing.runtime.RuntimeConformance`, which supplies the fixtures
(``runtime``, ``pods``, ``features`` …); it is not a test class of its own."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from navarch.runtime.contract import Runtime
from navarch.runtime.errors import NotFound
from navarch.runtime.types import STDERR, STDOUT, ContainerState, LogOptions
from navarch.testing.runtime_support import (
    ATTACH,
    EXEC_STDIN,
    MEMORY_LIMITS,
    NETWORK_NAMESPACES,
    OOM_DETECTION,
    REAL_PROCESSES,
    SLEEPER,
    WAIT_SECONDS,
    Pods,
    read_logs,
    requires,
    sh,
    text,
    wait_for_output,
    wait_for_state,
)


class ProcessConformance:
    # --- logs --------------------------------------------------------------------------

    async def test_logs_stdout_and_stderr(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit("echo out1; echo err1 >&2; echo out2")
        lines = await read_logs(runtime, status.id)
        assert text(lines, STDOUT) == "out1\nout2\n"
        assert text(lines, STDERR) == "err1\n"
        assert all(line.data.endswith(b"\n") for line in lines)
        times = [line.time for line in lines]
        assert times == sorted(times)

    async def test_logs_tail(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit("echo one; echo two; echo three; echo four")
        assert text(await read_logs(runtime, status.id, LogOptions(tail=2))) == "three\nfour\n"
        assert text(await read_logs(runtime, status.id, LogOptions(tail=0))) == ""

    async def test_logs_since(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit("echo one; sleep 1; echo two; sleep 1; echo three")
        lines = await read_logs(runtime, status.id)
        assert text(lines) == "one\ntwo\nthree\n"
        # Between the first two lines (a second apart), so no rounding of a time
        # decides the answer.
        since = (lines[0].time + lines[1].time) / 2
        got = await read_logs(runtime, status.id, LogOptions(since=since))
        assert text(got) == "two\nthree\n"
        assert all(line.time >= since for line in got)

    async def test_logs_follow_until_exit(self, runtime: Runtime, pods: Pods):
        container_id = await pods.run("echo first; sleep 2; echo second")
        lines = await read_logs(runtime, container_id, LogOptions(follow=True))
        assert text(lines) == "first\nsecond\n"
        # Following ends because the container exited.
        status = await runtime.container_status(container_id)
        assert status.state == ContainerState.EXITED

    async def test_logs_of_missing_container_is_not_found(self, runtime: Runtime):
        with pytest.raises(NotFound):
            await read_logs(runtime, "navarch-no-such-container")

    # --- exec ----------------------------------------------------------------------

    async def _sleeper(self, runtime: Runtime, pods: Pods, **fields: Any) -> str:
        """A container running SLEEPER (with ``fields``), once it said it is ready."""
        container_id = await pods.run(SLEEPER, **fields)
        await wait_for_output(runtime, container_id, "ready")
        return container_id

    async def test_exec_output_and_exit_code(self, runtime: Runtime, pods: Pods):
        container_id = await self._sleeper(runtime, pods)
        session = await runtime.exec(container_id, ["sh", "-c", "echo out; echo err >&2; exit 5"])
        try:
            out, err = await asyncio.wait_for(_drain(session.output()), WAIT_SECONDS)
            assert (out, err) == (b"out\n", b"err\n")
            assert await asyncio.wait_for(session.wait(), WAIT_SECONDS) == 5
        finally:
            await session.close()

    @requires(EXEC_STDIN)
    async def test_exec_stdin(self, runtime: Runtime, pods: Pods):
        container_id = await self._sleeper(runtime, pods)
        session = await runtime.exec(container_id, ["cat"], stdin=True)
        try:
            await session.write_stdin(b"hello\n")
            await session.write_stdin(b"again\n")
            await session.close_stdin()
            out, _ = await asyncio.wait_for(_drain(session.output()), WAIT_SECONDS)
            assert out == b"hello\nagain\n"
            assert await asyncio.wait_for(session.wait(), WAIT_SECONDS) == 0
        finally:
            await session.close()

    # --- attach (kubectl attach, kubectl debug -it --target) ------------------------------

    @requires(ATTACH)
    async def test_attach_writes_stdin_and_reads_output_until_exit(
        self, runtime: Runtime, pods: Pods
    ):
        sandbox = await pods.sandbox()
        container_id = await pods.container(sandbox, command=("sh",), stdin=True)
        await wait_for_state(runtime, container_id, ContainerState.RUNNING)
        session = await runtime.attach(container_id, stdin=True)
        try:
            await session.write_stdin(b"echo attached\nexit 3\n")
            out, _ = await asyncio.wait_for(_drain(session.output()), WAIT_SECONDS)
            assert out == b"attached\n"
            assert await asyncio.wait_for(session.wait(), WAIT_SECONDS) == 3
        finally:
            await session.close()

    @requires(ATTACH)
    async def test_a_target_shares_its_process_namespace(self, runtime: Runtime, pods: Pods):
        sandbox = await pods.sandbox()
        target = await pods.container(sandbox, "main", command=("sleep", "3600"))
        await wait_for_state(runtime, target, ContainerState.RUNNING)
        debugger = await pods.container(
            sandbox, "debugger", command=("sh",), stdin=True, target_container_id=target
        )
        await wait_for_state(runtime, debugger, ContainerState.RUNNING)
        session = await runtime.attach(debugger, stdin=True)
        try:
            await session.write_stdin(b"ps\nexit\n")
            out, _ = await asyncio.wait_for(_drain(session.output()), WAIT_SECONDS)
            # the target's process is the namespace's first
            assert any(
                line.split()[0] == b"1" and line.endswith(b"sleep 3600")
                for line in out.splitlines()[1:]
            ), out
            assert await asyncio.wait_for(session.wait(), WAIT_SECONDS) == 0
        finally:
            await session.close()
        # Detached, the target runs on.
        assert (await runtime.container_status(target)).state == ContainerState.RUNNING

    @requires(REAL_PROCESSES, EXEC_STDIN)
    async def test_tty_exec_and_resize(self, runtime: Runtime, pods: Pods):
        container_id = await self._sleeper(runtime, pods)
        session = await runtime.exec(
            container_id, ["sh", "-c", "test -t 0 && echo on-a-tty; cat"], stdin=True, tty=True
        )
        try:
            await session.resize(120, 40)
            # ^D at the start of a line: end of input on a terminal.
            await session.write_stdin(b"typed\n\x04")
            out, err = await asyncio.wait_for(_drain(session.output()), WAIT_SECONDS)
            assert err == b""  # a terminal is one stream
            assert b"on-a-tty" in out and b"typed" in out
            assert await asyncio.wait_for(session.wait(), WAIT_SECONDS) == 0
        finally:
            await session.close()

    @requires(REAL_PROCESSES)
    async def test_tty_container_logs(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit("echo one; echo two >&2", tty=True)
        lines = await read_logs(runtime, status.id)
        # A terminal merges both streams into one, with its line endings.
        assert [line.data for line in lines] == [b"one\r\n", b"two\r\n"]
        assert all(line.stream == STDOUT for line in lines)

    async def test_exec_sync(self, runtime: Runtime, pods: Pods):
        container_id = await self._sleeper(runtime, pods)
        result = await runtime.exec_sync(
            container_id, ["sh", "-c", "echo out; echo err >&2; exit 3"], timeout=WAIT_SECONDS
        )
        assert (result.exit_code, result.stdout, result.stderr) == (3, b"out\n", b"err\n")
        ok = await runtime.exec_sync(container_id, ["true"], timeout=WAIT_SECONDS)
        assert ok.exit_code == 0

    async def test_exec_sync_timeout(self, runtime: Runtime, pods: Pods):
        container_id = await self._sleeper(runtime, pods)
        with pytest.raises(TimeoutError):
            await runtime.exec_sync(container_id, ["sleep", "600"], timeout=1)
        # The container itself goes on.
        status = await runtime.container_status(container_id)
        assert status.state == ContainerState.RUNNING

    # --- resources -----------------------------------------------------------------

    async def test_limits_are_accepted(self, runtime: Runtime, pods: Pods):
        status = await pods.run_until_exit(
            "echo limited", memory_limit_bytes=64 << 20, cpu_limit_millis=500
        )
        assert status.exit_code == 0
        assert text(await read_logs(runtime, status.id)) == "limited\n"

    @requires(REAL_PROCESSES, MEMORY_LIMITS)
    async def test_memory_limit_applied(self, runtime: Runtime, pods: Pods):
        limit = 64 << 20
        container_id = await self._sleeper(runtime, pods, memory_limit_bytes=limit)
        result = await runtime.exec_sync(
            container_id,
            [
                "sh",
                "-c",
                "cat /sys/fs/cgroup/memory.max 2>/dev/null"
                " || cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
            ],
            timeout=WAIT_SECONDS,
        )
        assert result.exit_code == 0 and int(result.stdout.strip()) == limit

    @requires(REAL_PROCESSES, MEMORY_LIMITS, OOM_DETECTION)
    async def test_oom_killed(self, runtime: Runtime, pods: Pods):
        # dd's block buffer (256 MiB) is filled from /dev/zero: far above the limit.
        status = await pods.run_until_exit(
            "dd if=/dev/zero of=/dev/null bs=256M count=1", memory_limit_bytes=16 << 20
        )
        assert status.reason == "OOMKilled", status
        assert status.exit_code == 137

    # --- the pod's network -----------------------------------------------------------

    @requires(REAL_PROCESSES, NETWORK_NAMESPACES)
    async def test_containers_of_a_sandbox_share_the_network(self, runtime: Runtime, pods: Pods):
        port = 20000 + secrets.randbelow(20000)
        sandbox_id = await pods.sandbox()
        # The server's stdin is held open: busybox's ``nc -l`` half-closes the
        # connection as soon as its stdin (a container's /dev/null) ends, and a client
        # that sees that before it read its own stdin exits 0 having sent nothing.
        server = await pods.container(sandbox_id, "server", **sh(f"sleep 3600 | nc -l -p {port}"))
        # The client retries until the server listens (no sleep-and-hope).
        await pods.container(
            sandbox_id,
            "client",
            **sh(
                f"for i in $(seq 1 600); do echo through-loopback | nc 127.0.0.1 {port}"
                " && exit 0; sleep 0.1; done; exit 1"
            ),
        )
        assert "through-loopback" in await wait_for_output(runtime, server, "through-loopback")

    # --- concurrency ---------------------------------------------------------------

    async def test_parallel_creates(self, runtime: Runtime, pods: Pods):
        sandbox_id = await pods.sandbox()
        names = [f"c{index}" for index in range(10)]
        ids = await asyncio.gather(
            *(pods.container(sandbox_id, name, **sh(f"echo {name}")) for name in names)
        )
        assert len(set(ids)) == len(ids)
        for name, container_id in zip(names, ids, strict=True):
            status = await wait_for_state(runtime, container_id, ContainerState.EXITED)
            assert (status.name, status.exit_code) == (name, 0)
            assert text(await read_logs(runtime, container_id)) == f"{name}\n"
        listed = await runtime.list_containers(pods.labels_of(sandbox_id))
        assert {container.id for container in listed} == set(ids)


async def _drain(output: AsyncIterator[tuple[str, bytes]]) -> tuple[bytes, bytes]:
    out, err = bytearray(), bytearray()
    async for stream, data in output:
        (err if stream == STDERR else out).extend(data)
    return bytes(out), bytes(err)
