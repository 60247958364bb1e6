"""What a controller expects its informers to show next, so that it never acts twice
on the same gap (kube-controller-manager's ``ControllerExpectations``).

A ReplicaSet's sync creates three pods; its pod cache shows them only when their
watch events arrive. A sync in between would see three pods missing and create three
more. So before it acts, a sync records what it is about to do (``expect_creations``
/ ``expect_deletions`` under the controller's key), the informer's handlers count it
down as the events arrive (``creation_observed`` / ``deletion_observed``), and the
next sync acts only once :meth:`ControllerExpectations.satisfied`: both counts down to
zero, or the record older than :data:`EXPECTATIONS_TIMEOUT` (a watch event can be
lost for good: a re-list replaces it, and the controller must not wait forever).
A creation or deletion that failed is never going to be observed: the controller
lowers the count itself.

:class:`UIDTrackingExpectations` adds what deletions need: which pods were deleted,
so that the several events one graceful deletion produces (the deletionTimestamp
set, then the removal) count once, and a pod nobody asked to delete counts not at
all.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import attrs

# Kubernetes' ExpectationsTimeout: how long an unmet expectation holds syncs back.
EXPECTATIONS_TIMEOUT = 5 * 60.0


@attrs.define
class Expectation:
    """Creations and deletions still to be seen, and when they were expected."""

    add: int
    delete: int
    timestamp: float

    def fulfilled(self) -> bool:
        # below zero: more seen than expected (a pod made by an earlier sync whose
        # record had expired) is as good as all
        return self.add <= 0 and self.delete <= 0


class ControllerExpectations:
    """Expected creations and deletions per controller key (``namespace/name``).

    Handlers (informer callbacks) and syncs touch it from one event loop, but a lock
    keeps each read-modify-write whole anyway: a third party may run handlers from a
    thread."""

    def __init__(
        self, timeout: float = EXPECTATIONS_TIMEOUT, clock: Callable[[], float] = time.monotonic
    ):
        self.timeout = timeout
        self.clock = clock
        self._records: dict[str, Expectation] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Expectation | None:
        with self._lock:
            record = self._records.get(key)
            return attrs.evolve(record) if record is not None else None

    def satisfied(self, key: str) -> bool:
        """Whether a sync of ``key`` may act: nothing expected (a controller never
        synced, or one whose expectations were deleted), all of it seen, or the record
        expired."""
        with self._lock:
            record = self._records.get(key)
            if record is None:
                return True
            return record.fulfilled() or self.clock() - record.timestamp > self.timeout

    def set(self, key: str, add: int, delete: int) -> None:
        with self._lock:
            self._records[key] = Expectation(add, delete, self.clock())

    def expect_creations(self, key: str, count: int) -> None:
        self.set(key, count, 0)

    def expect_deletions(self, key: str, count: int) -> None:
        self.set(key, 0, count)

    def lower(self, key: str, add: int = 0, delete: int = 0) -> None:
        with self._lock:
            record = self._records.get(key)
            if record is not None:
                record.add -= add
                record.delete -= delete

    def raise_(self, key: str, add: int = 0, delete: int = 0) -> None:
        with self._lock:
            record = self._records.get(key)
            if record is not None:
                record.add += add
                record.delete += delete

    def creation_observed(self, key: str) -> None:
        self.lower(key, add=1)

    def deletion_observed(self, key: str) -> None:
        self.lower(key, delete=1)

    def delete(self, key: str) -> None:
        """Forget ``key`` (its controller is gone)."""
        with self._lock:
            self._records.pop(key, None)


class UIDTrackingExpectations(ControllerExpectations):
    """Expectations whose deletions name the objects deleted (their keys): a deletion
    is observed once per object, whatever the number of events about it."""

    def __init__(
        self, timeout: float = EXPECTATIONS_TIMEOUT, clock: Callable[[], float] = time.monotonic
    ):
        super().__init__(timeout, clock)
        self._deleting: dict[str, set[str]] = {}

    def expect_deletions(
        self, key: str, count: int | None = None, *, of: Iterable[str] = ()
    ) -> None:
        """Expect the deletion of the objects keyed ``of`` (``count`` defaults to
        their number)."""
        keys = set(of)
        with self._lock:
            self._deleting[key] = keys
        super().expect_deletions(key, len(keys) if count is None else count)

    def deletion_observed(self, key: str, deleted: str | None = None) -> None:
        """The informer saw object ``deleted`` go (or start going): count it if it
        was one of those expected."""
        with self._lock:
            keys = self._deleting.get(key)
            if deleted is None or keys is None or deleted not in keys:
                return
            keys.discard(deleted)
        super().deletion_observed(key)

    def deleting(self, key: str) -> set[str]:
        with self._lock:
            return set(self._deleting.get(key, ()))

    def delete(self, key: str) -> None:
        with self._lock:
            self._deleting.pop(key, None)
        super().delete(key)
