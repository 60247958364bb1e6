"""The floors of the runtime benchmark: each daemon's own bare CLI doing what a runtime
plugin does, on the same private daemon, one CLI process per step.

docker (Debian's ``docker``, ``-H unix://<private socket>``, no user config):
    load            docker rmi IMAGE (untimed); docker load -q -i ARCHIVE
    create+start    docker run -d --network none --pull never IMAGE sh -c SCRIPT
    stop+remove     docker stop -t 0 ID; docker rm ID

containerd (Debian's ``ctr --address <private socket> --namespace <its own>``):
    load            ctr images rm IMAGE and a synchronous garbage collection (untimed);
                    ctr images import ARCHIVE (content written, layers unpacked into
                    overlayfs snapshots, as the plugin's import does)
    create+start    ctr run -d --log-uri file://DIR/ID.log IMAGE ID sh -c SCRIPT: a
                    container record with a new snapshot of the image, a task in a new
                    network namespace (runc makes it: the plugin's sandbox made its own
                    beforehand, untimed), output to a file, started, detached
    stop+remove     ctr tasks delete --force ID (SIGKILL, wait, delete); ctr containers
                    delete ID (record and snapshot)

Every call is bounded by CALL_LIMIT; the CLIs see none of the caller's DOCKER_* or
CONTAINERD_* variables, so they reach the private daemon only.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from navarch.testing.images import BUSYBOX_IMAGE

DOCKER_CLI = "/usr/bin/docker"
CTR_CLI = "/usr/bin/ctr"
CALL_LIMIT = 120.0  # one CLI run
LOAD_REPEATS = 3


class Counts(Protocol):
    @property
    def sequential(self) -> int: ...  # containers one after another

    @property
    def parallel(self) -> int: ...  # containers at once


class Cli:
    """One command-line client: ``prefix`` before every call's arguments."""

    def __init__(self, name: str, prefix: Sequence[str], env: dict[str, str]):
        self.name = name
        self.prefix = list(prefix)
        self.env = env

    async def run(self, *args: str) -> tuple[float, str]:
        """Seconds the call took and its stdout; RuntimeError with stderr on failure."""
        started = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *self.prefix,
            *args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), CALL_LIMIT)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        if process.returncode != 0:
            message = err.decode(errors="replace").strip()
            raise RuntimeError(f"{self.name} {' '.join(args)}: {message}")
        return time.perf_counter() - started, out.decode().strip()


def docker_cli(socket_url: str, config_dir: Path) -> Cli:
    """Debian's docker client on the private daemon only (no user config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(config_dir)
    return Cli("docker", [DOCKER_CLI, "-H", socket_url], env)


def ctr_cli(socket_path: Path, namespace: str) -> Cli:
    """Debian's ctr on the private containerd, in ``namespace``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTAINERD_")}
    return Cli("ctr", [CTR_CLI, "--address", str(socket_path), "--namespace", namespace], env)


async def collect_garbage(ctr: Cli) -> None:
    """Have containerd collect what no image or container holds (in every namespace)
    before this returns: a lease created, then deleted with --sync."""
    lease = f"bench-gc-{secrets.token_hex(4)}"
    await ctr.run("leases", "create", "--id", lease)
    await ctr.run("leases", "delete", "--sync", lease)


async def _containers(
    figures: dict[str, Any],
    counts: Counts,
    run: Callable[[], Awaitable[tuple[float, str]]],
    teardown: Callable[[str], Awaitable[float]],
) -> None:
    """One untimed warm-up run, ``counts.sequential`` one after another, then
    ``counts.parallel`` at once; every container made is torn down (timed)."""
    made: list[str] = []

    async def one(into: str) -> None:
        seconds, container_id = await run()
        made.append(container_id)
        figures[into].append(seconds)

    try:
        await one("warm-up")
        for _ in range(counts.sequential):
            await one("seq")
        began = time.perf_counter()
        await asyncio.gather(*(one("par") for _ in range(counts.parallel)))
        figures["par wall"] = time.perf_counter() - began
    finally:
        for container_id in made:
            figures["teardown"].append(await teardown(container_id))


def _empty() -> dict[str, Any]:
    return {"load": [], "warm-up": [], "seq": [], "par": [], "teardown": []}


async def docker_floor(
    cli: Cli, archive: Path, command: Sequence[str], counts: Counts
) -> dict[str, Any]:
    """docker load, docker run -d, docker stop + rm (the image is loaded at the end)."""
    figures = _empty()
    for _ in range(LOAD_REPEATS):
        await cli.run("rmi", BUSYBOX_IMAGE)  # loaded by the runtime before
        figures["load"].append((await cli.run("load", "-q", "-i", str(archive)))[0])

    async def run() -> tuple[float, str]:
        return await cli.run(
            "run", "-d", "--network", "none", "--pull", "never", BUSYBOX_IMAGE, *command
        )

    async def teardown(container_id: str) -> float:
        stop, _ = await cli.run("stop", "-t", "0", container_id)
        remove, _ = await cli.run("rm", container_id)
        return stop + remove

    await _containers(figures, counts, run, teardown)
    return figures


async def ctr_floor(
    ctr: Cli, archive: Path, command: Sequence[str], counts: Counts, logs: Path
) -> dict[str, Any]:
    """ctr images import, ctr run -d, ctr tasks delete -f + containers delete; the
    image is removed and collected at the end, leaving the namespace empty."""
    figures = _empty()
    logs.mkdir(parents=True, exist_ok=True)
    for attempt in range(LOAD_REPEATS):
        if attempt:
            await ctr.run("images", "rm", BUSYBOX_IMAGE)
        await collect_garbage(ctr)
        figures["load"].append((await ctr.run("images", "import", str(archive)))[0])

    async def run() -> tuple[float, str]:
        container_id = f"floor-{secrets.token_hex(6)}"
        log = f"file://{logs / container_id}.log"
        seconds, _ = await ctr.run(
            "run", "-d", "--log-uri", log, BUSYBOX_IMAGE, container_id, *command
        )
        return seconds, container_id

    async def teardown(container_id: str) -> float:
        kill, _ = await ctr.run("tasks", "delete", "--force", container_id)
        remove, _ = await ctr.run("containers", "delete", container_id)
        return kill + remove

    try:
        await _containers(figures, counts, run, teardown)
    finally:
        await ctr.run("images", "rm", BUSYBOX_IMAGE)
        await collect_garbage(ctr)
    return figures
