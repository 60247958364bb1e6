"""The store's error types. Each is distinct so callers (the API server above all)
map them to answers without parsing messages: NotFound -> 404, AlreadyExists and
Conflict -> 409, Compacted -> 410 Gone, TooLarge -> 413, Unavailable -> 503."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the contract imports this module
    from navarch.store.contract import KeyValue


class StoreError(Exception):
    """Base of every store error."""


class NotFound(StoreError):
    def __init__(self, key: bytes):
        self.key = key
        super().__init__(f"key {key!r} not found")


class AlreadyExists(StoreError):
    def __init__(self, key: bytes, revision: int):
        self.key, self.revision = key, revision
        super().__init__(f"key {key!r} already exists (modified at revision {revision})")


class Conflict(StoreError):
    """A compare-and-swap lost. ``current`` is the key as the failed compare saw it
    (value and revisions), so a retry can mutate it and compare against
    ``current.mod_revision`` without reading again (kine's and Kubernetes'
    GuaranteedUpdate shape). A key that is gone raises NotFound, never Conflict, so
    ``current`` is None only from a backend that cannot return the value; re-read then.
    ``current_revision`` is the key's modification revision now (``current``'s when
    given; 0 when unknown)."""

    def __init__(
        self,
        key: bytes,
        expected: int,
        current_revision: int | None = None,
        *,
        current: KeyValue | None = None,
    ):
        if current_revision is None:
            current_revision = current.mod_revision if current is not None else 0
        self.key, self.expected, self.current_revision = key, expected, current_revision
        self.current = current
        super().__init__(
            f"key {key!r}: expected modification revision {expected}, "
            f"found {current_revision or 'another'}; retry from the current value"
        )


class Compacted(StoreError):
    """The requested revision is older than the oldest kept in history;
    ``compacted_revision`` is where history starts, when the backend says."""

    def __init__(self, requested: int, compacted_revision: int | None):
        self.requested, self.compacted_revision = requested, compacted_revision
        where = f" (history starts at revision {compacted_revision})" if compacted_revision else ""
        super().__init__(
            f"revision {requested} has been compacted{where}; re-list and watch from the "
            "current revision"
        )


class TooLarge(StoreError):
    def __init__(self, key: bytes, size: int, limit: int):
        self.key, self.size, self.limit = key, size, limit
        super().__init__(f"value for key {key!r} is {size} bytes; the limit is {limit} bytes")


class InvalidArgument(StoreError, ValueError):
    """A key or value the store cannot take (empty key, value that is not bytes …)."""


class Unavailable(StoreError):
    """The store cannot serve now (backend down, disk full, closed); safe to retry later.
    Nothing acknowledged before is lost."""


class Locked(StoreError):
    """The data directory is in use by another process."""


class Corrupt(StoreError):
    """A data file is damaged or not the store's own; it is never re-initialised."""
