"""The store contract every backend implements (modelled on etcd v3).

Revisions: one global counter; every successful write (create, update, delete) makes
exactly one new revision. A key's ``mod_revision`` is the revision of its last write,
and is what the API server exposes as ``metadata.resourceVersion``.

Watch semantics, worked example — writes: rev 5 PUT a, rev 6 PUT b, rev 7 DELETE a:

* ``watch(b"", from_revision=6)`` yields rev 6 then rev 7 (``from_revision`` is
  inclusive, as etcd's ``start_revision``), then every later event, live;
* ``watch(b"", from_revision=0)`` yields only events after the call;
* after ``compact(7)``, ``watch(b"", from_revision=6)`` raises :class:`Compacted`
  (history before 7 is gone) while ``from_revision=7`` still works.

Compare-and-swap, worked example — key ``a`` created at rev 5 (b"1"), updated at rev 8
(b"2"):

* ``update(a, b"3", expected_revision=5)`` raises :class:`Conflict` whose ``current``
  is ``KeyValue(a, b"2", create_revision=5, mod_revision=8, version=2)``: the value the
  compare saw. A read-modify-write loop retries from it with no second read::

      kv = await store.get(key)
      while True:
          try:
              return await store.update(key, mutate(kv.value), kv.mod_revision)
          except Conflict as lost:
              kv = lost.current or await store.get(key)

* ``delete(a, expected_revision=5)`` raises the same Conflict;
* once ``a`` is deleted, both raise :class:`NotFound`, never Conflict: a key that is
  gone has no value to retry from.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncGenerator

import attrs

from navarch.store.errors import InvalidArgument, TooLarge

PUT, DELETE = "PUT", "DELETE"


@attrs.frozen
class KeyValue:
    key: bytes
    value: bytes
    create_revision: int
    mod_revision: int
    version: int  # writes since creation: 1 on create


@attrs.frozen
class Event:
    """One change. For a DELETE, ``kv.value`` is empty and ``kv.mod_revision`` is the
    deletion's revision; ``prev_kv`` is the value before the change (None on create)."""

    type: str
    kv: KeyValue
    prev_kv: KeyValue | None = None

    @property
    def revision(self) -> int:
        return self.kv.mod_revision


@attrs.frozen
class RangeResult:
    """``items`` in key order, read at ``revision``. When ``more`` is true, pass
    ``continue_from`` and ``revision`` back to read the next page at the same revision."""

    items: tuple[KeyValue, ...]
    revision: int
    more: bool = False
    continue_from: bytes | None = None


class Store(abc.ABC):
    """The asynchronous store interface. Keys and values are ``bytes``.

    Every write returns only once durable. Errors are the types in
    :mod:`navarch.store.errors`.
    """

    @abc.abstractmethod
    async def get(self, key: bytes) -> KeyValue:
        """The current value of ``key``; raises NotFound."""

    @abc.abstractmethod
    async def range(
        self,
        prefix: bytes,
        *,
        limit: int = 0,
        continue_from: bytes | None = None,
        revision: int | None = None,
    ) -> RangeResult:
        """Keys starting with ``prefix`` in key order, at most ``limit`` (0: all),
        starting at ``continue_from`` (inclusive), read at ``revision`` (None: now).
        Raises Compacted when ``revision`` is older than history."""

    @abc.abstractmethod
    async def create(self, key: bytes, value: bytes) -> int:
        """Create ``key``; returns the new revision; raises AlreadyExists."""

    @abc.abstractmethod
    async def update(self, key: bytes, value: bytes, expected_revision: int | None) -> int:
        """Replace the value of an existing ``key`` if its ``mod_revision`` equals
        ``expected_revision`` (None: unconditionally); returns the new revision.
        Raises NotFound when the key is absent, or Conflict carrying the key's current
        KeyValue (``Conflict.current``) when the revision differs."""

    @abc.abstractmethod
    async def delete(self, key: bytes, expected_revision: int | None = None) -> KeyValue:
        """Delete ``key`` (if its ``mod_revision`` equals ``expected_revision``, when
        given); returns the deleted KeyValue with ``mod_revision`` set to the deletion's
        revision. Raises NotFound when the key is absent, or Conflict carrying the key's
        current KeyValue when ``expected_revision`` differs."""

    @abc.abstractmethod
    def watch(self, prefix: bytes, from_revision: int = 0) -> AsyncGenerator[Event, None]:
        """Events for keys under ``prefix`` in revision order, from ``from_revision``
        (inclusive; 0: only future events), with no gaps and no duplicates, until the
        generator is closed (``aclose``; an ``async def`` with ``yield`` is one). Raises
        Compacted when ``from_revision`` is older than history; a backend that loses its
        connection resumes where it stopped."""

    @abc.abstractmethod
    async def compact(self, revision: int) -> None:
        """Forget history older than ``revision`` (current values are kept)."""

    @abc.abstractmethod
    async def current_revision(self) -> int:
        """The revision of the last write (0 for an empty store)."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release every resource; further calls raise Unavailable."""


def prefix_end(prefix: bytes) -> bytes:
    """The first key after every key starting with ``prefix`` (etcd's range_end):
    b"a/" -> b"a0"; b"a\\xff" -> b"b"; b"" or all-0xff -> b"" (no upper bound)."""
    end = bytearray(prefix)
    while end:
        if end[-1] < 0xFF:
            end[-1] += 1
            return bytes(end)
        end.pop()
    return b""


def check_key(key: object) -> bytes:
    """``key`` if the store can take it, else InvalidArgument saying why."""
    if not isinstance(key, bytes):
        raise InvalidArgument(f"key must be bytes, got {type(key).__name__}")
    if not key:
        raise InvalidArgument("key must not be empty")
    return key


def check_value(key: bytes, value: object, limit: int) -> bytes:
    """``value`` if it is bytes within ``limit``, else InvalidArgument or TooLarge."""
    if not isinstance(value, bytes):
        raise InvalidArgument(f"value for key {key!r} must be bytes, got {type(value).__name__}")
    if len(value) > limit:
        raise TooLarge(key, len(value), limit)
    return value


DEFAULT_MAX_VALUE_BYTES = 1536 * 1024  # 1.5 MiB, etcd's default request limit
