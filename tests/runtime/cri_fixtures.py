"""Fixtures of the CRI runtime's tests (imported by their modules): one private
containerd with its CRI plugin per test module, and a CriRuntime on it per test whose
sandboxes are removed afterwards."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from navarch.runtime import NotFound
from navarch.testing.cri import CriContainerdProcess, start_private_cri_containerd
from navarch_runtime_cri import CriOptions, CriRuntime


@pytest.fixture(scope="module")
def cri_containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CriContainerdProcess]:
    process = start_private_cri_containerd(tmp_path_factory.mktemp("cri-containerd"))
    try:
        yield process
    finally:
        process.remove()


@pytest_asyncio.fixture
async def cri_runtime(
    cri_containerd: CriContainerdProcess, tmp_path: Path
) -> AsyncIterator[CriRuntime]:
    runtime = CriRuntime(CriOptions(endpoint=cri_containerd.endpoint), tmp_path / "data")
    try:
        yield runtime
    finally:
        try:
            for sandbox in await runtime.list_sandboxes():
                with contextlib.suppress(NotFound):
                    await runtime.remove_sandbox(sandbox.id)
        finally:
            await runtime.close()
