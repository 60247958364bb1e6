"""``ContainerdRuntime``: Navarch's runtime contract on containerd, registered as
``containerd``: version, images (pull from a registry, load from an archive, status,
list, remove), pod sandboxes, containers (create, start, stop, remove, status, list,
logs; exits and OOM kills from containerd's event stream) and exec (with stdin, on a
terminal too); a restarted runtime re-attaches to running containers' output.

A sandbox is a small JSON state file under ``data_dir/sandboxes`` plus, unless it uses
the host's network, a network namespace pinned under ``data_dir/netns`` (netns.py).
Not a containerd container record: containerd's Containers.Create wants a runtime and
an OCI spec (a record with neither would be a fake container in every list), and the
namespace's bind mount lives on this node's disk anyway, so its record belongs beside
it. The file is written whole (a temporary file renamed over it), so a crash leaves the
old or the new state, never half of one.

A container is a containerd container record (the config's labels verbatim, the OCI
spec, its snapshot) and a directory ``data_dir/containers/<id>``: ``state.json``
(name, sandbox, image, attempt, annotations, times, and the exit once seen) and
``container.log`` in the CRI format (time, stream and line; logfile.py), written by
the runtime from the FIFOs the shim copies the process's output into. A
task that has exited is deleted as soon as its exit is seen (its shim process
goes with it), its exit code and time written to ``state.json`` first.

This module holds the daemon's version, images and exec; the sandboxes' operations
are in runtime_sandboxes.py, the containers' in runtime_containers.py, and what both
keep (client, state files) in state.py.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Sequence
from pathlib import Path

from navarch.runtime.errors import (
    NotFound,
    RuntimeFault,
)
from navarch.runtime.registries import Registries, load_registries
from navarch.runtime.types import (
    STDERR,
    STDOUT,
    ExecResult,
    ImageRef,
    RegistryAuth,
    RuntimeVersion,
)
from navarch_runtime_containerd.errors import ContainerdError
from navarch_runtime_containerd.execs import ContainerdExec
from navarch_runtime_containerd.importer import import_image_archive
from navarch_runtime_containerd.ocispec import exec_process
from navarch_runtime_containerd.pull import pull_image as pull_from_registry
from navarch_runtime_containerd.records import ImageRecord
from navarch_runtime_containerd.resolve import resolve_record
from navarch_runtime_containerd.runtime_sandboxes import SandboxOps


class ContainerdRuntime(SandboxOps):
    """The runtime contract over one containerd; ``data_dir`` holds the sandboxes'
    state files and network namespaces."""

    # --- the daemon -------------------------------------------------------------------

    async def version(self) -> RuntimeVersion:
        info = await self.client.version()
        return RuntimeVersion("containerd", info.version.removeprefix("v"), "v1")

    async def close(self) -> None:
        if self._watcher is not None:
            await self._watcher.close()
            self._watcher = None
        for copier in self._copiers.values():
            copier.cancel(keep_fifos=True)  # the processes run on: re-attached later
        self._copiers.clear()
        await self.client.close()

    # --- images -----------------------------------------------------------------------

    async def pull_image(self, image: str, auth: RegistryAuth | None = None) -> ImageRef:
        """Pull ``image`` from its registry, or the mirrors the ``registries`` option
        names for it, over the distribution API (pull.py); the image is named ``image``
        as given."""
        return await pull_from_registry(self.client, image, auth, registries=self._registries)

    @functools.cached_property
    def _registries(self) -> Registries:
        return load_registries(self.options.registries)

    async def load_image(self, archive: Path) -> list[ImageRef]:
        await self.client.ensure_namespace()
        return await import_image_archive(self.client, Path(archive))

    async def _records_by_id(self) -> dict[str, list[ImageRecord]]:
        """Every image record, grouped by image id (its config digest)."""
        groups: dict[str, list[ImageRecord]] = {}
        for record in await self.client.list_images():
            try:
                resolved = await resolve_record(self.client, record)
            except NotFound:
                continue  # its content is gone (collected): not an image we hold
            groups.setdefault(resolved.config_digest, []).append(record)
        return groups

    @staticmethod
    def _ref(image_id: str, records: list[ImageRecord]) -> ImageRef:
        return ImageRef(id=image_id, tags=tuple(sorted(record.name for record in records)))

    async def image_status(self, image: str) -> ImageRef | None:
        for image_id, records in (await self._records_by_id()).items():
            if image == image_id or any(record.name == image for record in records):
                return self._ref(image_id, records)
        return None

    async def list_images(self) -> list[ImageRef]:
        return [
            self._ref(image_id, records)
            for image_id, records in (await self._records_by_id()).items()
        ]

    async def remove_image(self, image: str) -> None:
        """Remove the name ``image``, or every name of the image whose id it is;
        containerd collects the content once no name holds it."""
        groups = await self._records_by_id()
        names = [
            record.name
            for image_id, records in groups.items()
            for record in records
            if image in (image_id, record.name)
        ]
        if not names:
            raise NotFound("image", image)
        for name in names:
            await self.client.delete_image(name)

    # --- exec -------------------------------------------------------------------------

    async def exec(
        self, container_id: str, command: Sequence[str], *, stdin: bool = False, tty: bool = False
    ) -> ContainerdExec:
        self._read_container(container_id)
        record = await self.client.get_container(container_id)
        process = exec_process(record.spec, command, tty=tty)
        session = ContainerdExec(self.client, container_id, f"exec-{uuid.uuid4().hex[:16]}")
        try:
            return await session.start(
                self._container_dir(container_id), process, stdin=stdin, tty=tty
            )
        except ContainerdError as exc:
            raise RuntimeFault(f"exec {list(command)} failed: {exc.message}") from exc

    async def exec_sync(
        self, container_id: str, command: Sequence[str], timeout: float
    ) -> ExecResult:
        session = await self.exec(container_id, command)
        output: dict[str, bytearray] = {STDOUT: bytearray(), STDERR: bytearray()}

        async def run() -> int:
            async for stream, data in session.output():
                output[stream] += data
            return await session.wait()

        try:
            exit_code = await asyncio.wait_for(run(), timeout)
        except TimeoutError:
            await session.close()  # kills it
            raise TimeoutError(
                f"{list(command)} still running after {timeout:g}s (killed)"
            ) from None
        return ExecResult(exit_code, bytes(output[STDOUT]), bytes(output[STDERR]))
