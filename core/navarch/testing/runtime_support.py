"""Helpers of the runtime conformance suite (:mod:`navarch.testing.runtime`), usable by a
runtime's own tests too: the optional features a runtime declares and ``requires``,
condition waits with generous deadlines, log reading, shell scripts for containers
and :class:`Pods`, the sandboxes and containers one test makes and removes.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import pytest

from navarch.runtime import labels as runtime_labels
from navarch.runtime.contract import Runtime
from navarch.runtime.errors import NotFound
from navarch.runtime.types import (
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    LogLine,
    LogOptions,
    SandboxConfig,
)

# --- features: behaviour only some runtimes have ---------------------------------------

# The image's programs run as real processes (nc, dd, /sys/fs/cgroup …), not emulated.
REAL_PROCESSES = "real-processes"
# A sandbox is a network namespace its containers share (127.0.0.1 reaches each other).
NETWORK_NAMESPACES = "network-namespaces"
# Images can be pulled from a registry (the suite needs the ``pull_image`` fixture).
PULL = "pull"
# ``exec(..., stdin=True)`` feeds the process's standard input.
EXEC_STDIN = "exec-stdin"
# A memory limit is applied to the container's cgroup (visible inside it).
MEMORY_LIMITS = "memory-limits"
# A container killed for exceeding its memory limit reports reason ``OOMKilled``.
OOM_DETECTION = "oom-detection"

# ``attach`` to a container's own process, and ``target_container_id`` sharing a
# running container's pid namespace (kubectl attach, kubectl debug --target).
ATTACH = "attach"

# A mount with ``MountPropagation.HOST_TO_CONTAINER`` receives mounts made on the host
# under its host path after the container started (the test mounts a tmpfs: root).
MOUNT_PROPAGATION = "mount-propagation"

ALL_FEATURES = frozenset(
    {
        REAL_PROCESSES,
        NETWORK_NAMESPACES,
        PULL,
        EXEC_STDIN,
        MEMORY_LIMITS,
        OOM_DETECTION,
        ATTACH,
        MOUNT_PROPAGATION,
    }
)

# The reason prefix of a skip for a feature the runtime lacks (the report's "n/a").
NOT_APPLICABLE = "n/a:"

# Deadlines for conditions (never asserted on: a slow machine only waits longer).
WAIT_SECONDS = 60.0

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


def requires(*features: str) -> Callable[[_F], _F]:
    """Mark a conformance test as needing ``features``; where the runtime lacks one,
    the test is skipped as ``n/a``."""
    unknown = set(features) - ALL_FEATURES
    if unknown:
        raise ValueError(
            f"unknown runtime features {sorted(unknown)}; known: {sorted(ALL_FEATURES)}"
        )

    def mark(function: _F) -> _F:
        function.__navarch_requires__ = frozenset(features)  # type: ignore[attr-defined]
        return function

    return mark


def not_applicable(reason: str) -> None:
    """Skip the current test as not applicable to this runtime (reported ``n/a``)."""
    pytest.skip(f"{NOT_APPLICABLE} {reason}")


async def wait_until(
    condition: Callable[[], Awaitable[_T | None]],
    timeout: float = WAIT_SECONDS,
    what: str = "the condition",
    interval: float = 0.05,
) -> _T:
    """Poll ``condition`` until it returns something truthy, and return that; fail the
    test naming ``what`` if ``timeout`` seconds pass first."""
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)


async def wait_for_state(
    runtime: Runtime, container_id: str, state: ContainerState, timeout: float = WAIT_SECONDS
) -> ContainerStatus:
    async def reached() -> ContainerStatus | None:
        status = await runtime.container_status(container_id)
        return status if status.state == state else None

    return await wait_until(reached, timeout, f"container {container_id} to be {state.value}")


async def read_logs(
    runtime: Runtime,
    container_id: str,
    options: LogOptions | None = None,
    timeout: float = WAIT_SECONDS,
) -> list[LogLine]:
    """Every line ``logs`` yields (following ends when the container exits)."""

    async def collect() -> list[LogLine]:
        return [line async for line in runtime.logs(container_id, options or LogOptions())]

    return await asyncio.wait_for(collect(), timeout)


def text(lines: Iterable[LogLine], stream: str | None = None) -> str:
    return b"".join(line.data for line in lines if stream in (None, line.stream)).decode()


async def wait_for_output(runtime: Runtime, container_id: str, needle: str) -> str:
    async def seen() -> str | None:
        output = text(await read_logs(runtime, container_id))
        return output if needle in output else None

    return await wait_until(seen, what=f"{needle!r} in the logs of {container_id}")


def sh(script: str, *args: str) -> dict[str, Any]:
    """``command``/``args`` for a shell script (``$0``, ``$1`` … are ``args``)."""
    return {"command": ("sh", "-c"), "args": (script, *args)}


# A process that waits until stopped, answering SIGTERM with exit code 7. It says
# "ready" once its trap is set, so a test stops it only after that.
SLEEPER = "trap 'echo terminated; exit 7' TERM; echo ready; sleep 100000 & wait"
# The same, ignoring SIGTERM: only SIGKILL ends it.
STUBBORN = "trap '' TERM; echo ready; sleep 100000 & wait"


class Pods:
    """Sandboxes and containers made for one test, labelled with a fresh pod uid (so
    listings filtered on it see only them) and removed afterwards."""

    NODE = "conformance"
    NAMESPACE = "conformance"

    def __init__(self, runtime: Runtime, image: str):
        self.runtime, self.image = runtime, image
        self.sandboxes: list[str] = []
        self.configs: dict[str, SandboxConfig] = {}

    async def sandbox(
        self,
        name: str = "pod",
        *,
        host_network: bool = False,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
    ) -> str:
        uid = secrets.token_hex(8)
        config = SandboxConfig(
            name,
            self.NAMESPACE,
            uid,
            host_network=host_network,
            labels={
                **runtime_labels.sandbox_labels(self.NODE, self.NAMESPACE, name, uid),
                **(labels or {}),
            },
            annotations=annotations or {},
        )
        sandbox_id = await self.runtime.create_sandbox(config)
        self.sandboxes.append(sandbox_id)
        self.configs[sandbox_id] = config
        return sandbox_id

    def labels_of(self, sandbox_id: str) -> dict[str, str]:
        """The labels every container and the sandbox of this pod carry."""
        config = self.configs[sandbox_id]
        return {runtime_labels.POD_UID: config.uid}

    async def container(
        self,
        sandbox_id: str,
        name: str = "main",
        *,
        start: bool = True,
        attempt: int = 0,
        labels: Mapping[str, str] | None = None,
        image: str | None = None,
        **fields: Any,
    ) -> str:
        sandbox = self.configs[sandbox_id]
        config = ContainerConfig(
            name,
            image or self.image,
            attempt=attempt,
            labels={
                **runtime_labels.container_labels(
                    self.NODE, sandbox.namespace, sandbox.name, sandbox.uid, name, attempt
                ),
                **(labels or {}),
            },
            **fields,
        )
        container_id = await self.runtime.create_container(sandbox_id, config, sandbox)
        if start:
            await self.runtime.start_container(container_id)
        return container_id

    async def run(self, script: str, *args: str, **fields: Any) -> str:
        """A new sandbox with one started container running ``sh -c script``."""
        return await self.container(await self.sandbox(), **sh(script, *args), **fields)

    async def run_until_exit(self, script: str, *args: str, **fields: Any) -> ContainerStatus:
        container_id = await self.run(script, *args, **fields)
        return await wait_for_state(self.runtime, container_id, ContainerState.EXITED)

    async def cleanup(self) -> None:
        for sandbox_id in self.sandboxes:
            with contextlib.suppress(NotFound):
                await self.runtime.remove_sandbox(sandbox_id)


def _image_names(refs: Iterable[Any]) -> set[str]:
    return {name for ref in refs for name in (ref.id, *ref.tags)}
