"""A store wrapper that records each call's latency in the API server's metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Any

from navarch.apiserver.metrics import Metrics
from navarch.store import Event, KeyValue, RangeResult, Store, Unavailable


class TimedStore(Store):
    def __init__(self, inner: Store, metrics: Metrics):
        self.inner = inner
        self._histogram = metrics.store_latency
        self._write_failure = ""

    async def _timed(self, operation: str, call: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call
        finally:
            self._histogram.labels(operation).observe(time.perf_counter() - started)

    async def get(self, key: bytes) -> KeyValue:
        return await self._timed("get", self.inner.get(key))

    async def range(self, prefix: bytes, **kwargs: Any) -> RangeResult:
        return await self._timed("range", self.inner.range(prefix, **kwargs))

    async def _write(self, operation: str, call: Any) -> Any:
        """A timed write that remembers whether the store accepts writes: a full disk
        fails every write while reads still answer, and /readyz must say so."""
        try:
            result = await self._timed(operation, call)
        except Unavailable as exc:
            self._write_failure = str(exc)
            raise
        self._write_failure = ""
        return result

    def write_failure(self) -> str:
        """Why the last write failed, if the store was unavailable for it ("" if not)."""
        return self._write_failure

    async def create(self, key: bytes, value: bytes) -> int:
        return await self._write("create", self.inner.create(key, value))

    async def update(self, key: bytes, value: bytes, expected_revision: int | None) -> int:
        return await self._write("update", self.inner.update(key, value, expected_revision))

    async def delete(self, key: bytes, expected_revision: int | None = None) -> KeyValue:
        return await self._write("delete", self.inner.delete(key, expected_revision))

    def watch(self, prefix: bytes, from_revision: int = 0) -> AsyncGenerator[Event, None]:
        return self.inner.watch(prefix, from_revision)

    async def compact(self, revision: int) -> None:
        await self._timed("compact", self.inner.compact(revision))

    async def current_revision(self) -> int:
        return await self._timed("current_revision", self.inner.current_revision())

    async def close(self) -> None:
        await self.inner.close()
