"""The store conformance suite: one set of contract tests for every store backend.

Use it from your own tests::

    import pytest_asyncio
    from navarch.testing.store import StoreConformance

    class TestMyStore(StoreConformance):
        max_value_bytes = 1536 * 1024     # the limit your store is configured with

        @pytest_asyncio.fixture
        async def store(self, tmp_path):
            store = MyStore.open(tmp_path)
            yield store
            await store.close()

The fixture must give a store nobody else writes to during the test (an empty one,
or an isolated key namespace of a shared backend). Revisions are only compared
relative to ``current_revision()``, so a backend need not start at 0.
"""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from navarch.store import (
    DELETE,
    PUT,
    AlreadyExists,
    Compacted,
    Conflict,
    InvalidArgument,
    KeyValue,
    NotFound,
    Store,
    TooLarge,
    Unavailable,
)

pytestmark = pytest.mark.asyncio

P = b"/conformance/"


async def _next_events(watch, count: int, timeout: float = 10.0):
    async def take():
        return [await watch.__anext__() for _ in range(count)]

    return await asyncio.wait_for(take(), timeout)


class StoreConformance:
    """Contract tests; a subclass supplies the ``store`` fixture."""

    max_value_bytes: int = 1536 * 1024
    # Large-scale tests can be tuned by slow backends, never skipped.
    many_keys: int = 100_000

    @pytest.fixture
    def store(self) -> Store:
        raise NotImplementedError("subclass StoreConformance and define a 'store' fixture")

    # --- CRUD and revisions ----------------------------------------------------------

    async def test_create_get_update_delete(self, store: Store):
        base = await store.current_revision()
        rev = await store.create(P + b"a", b"1")
        assert rev == base + 1
        kv = await store.get(P + b"a")
        assert (kv.value, kv.create_revision, kv.mod_revision, kv.version) == (b"1", rev, rev, 1)
        rev2 = await store.update(P + b"a", b"2", rev)
        assert rev2 == rev + 1
        kv = await store.get(P + b"a")
        assert (kv.value, kv.create_revision, kv.mod_revision, kv.version) == (b"2", rev, rev2, 2)
        deleted = await store.delete(P + b"a")
        assert deleted.value == b"2" and deleted.mod_revision == rev2 + 1
        assert await store.current_revision() == rev2 + 1
        with pytest.raises(NotFound):
            await store.get(P + b"a")

    async def test_create_existing_is_already_exists(self, store: Store):
        rev = await store.create(P + b"x", b"1")
        with pytest.raises(AlreadyExists) as info:
            await store.create(P + b"x", b"2")
        assert info.value.revision == rev
        assert (await store.get(P + b"x")).value == b"1"
        assert await store.current_revision() == rev  # a failed write makes no revision

    async def test_missing_keys_are_not_found(self, store: Store):
        with pytest.raises(NotFound):
            await store.update(P + b"nope", b"v", None)
        with pytest.raises(NotFound):
            await store.delete(P + b"nope")
        with pytest.raises(NotFound):
            await store.get(P + b"nope")

    async def test_unconditional_update(self, store: Store):
        await store.create(P + b"u", b"1")
        rev = await store.update(P + b"u", b"2", None)
        assert (await store.get(P + b"u")).mod_revision == rev

    # --- compare-and-swap --------------------------------------------------------------

    async def test_stale_update_is_conflict_with_current_revision(self, store: Store):
        rev = await store.create(P + b"c", b"1")
        rev2 = await store.update(P + b"c", b"2", rev)
        with pytest.raises(Conflict) as info:
            await store.update(P + b"c", b"3", rev)
        assert info.value.current_revision == rev2
        assert (await store.get(P + b"c")).value == b"2"

    async def test_conflict_carries_the_current_key_value(self, store: Store):
        rev = await store.create(P + b"cv", b"1")
        rev2 = await store.update(P + b"cv", b"2", rev)
        with pytest.raises(Conflict) as info:
            await store.update(P + b"cv", b"3", rev)
        assert info.value.current == KeyValue(P + b"cv", b"2", rev, rev2, 2)
        assert info.value.current == await store.get(P + b"cv")

    async def test_retry_from_the_conflict_needs_no_second_read(self, store: Store):
        key = P + b"retry"
        rev = await store.create(key, b"1")
        await store.update(key, b"2", rev)  # another writer got there first
        try:
            await store.update(key, b"3", rev)
        except Conflict as lost:
            current = lost.current
        assert current is not None and current.value == b"2"
        rev3 = await store.update(key, current.value + b"+", current.mod_revision)
        kv = await store.get(key)
        assert (kv.value, kv.mod_revision, kv.version) == (b"2+", rev3, 3)

    async def test_conditional_delete(self, store: Store):
        rev = await store.create(P + b"d", b"1")
        stale = rev - 1 if rev > 1 else rev + 5
        with pytest.raises(Conflict) as info:
            await store.delete(P + b"d", stale)
        assert info.value.current == KeyValue(P + b"d", b"1", rev, rev, 1)
        assert info.value.current_revision == rev
        deleted = await store.delete(P + b"d", rev)
        assert deleted.value == b"1"

    async def test_cas_on_a_deleted_key_is_not_found_not_conflict(self, store: Store):
        rev = await store.create(P + b"gone", b"1")
        await store.delete(P + b"gone")
        with pytest.raises(NotFound):
            await store.update(P + b"gone", b"2", rev)
        with pytest.raises(NotFound):
            await store.delete(P + b"gone", rev)

    async def test_concurrent_cas_counter_reaches_exactly_5000(self, store: Store):
        key = P + b"counter"
        await store.create(key, b"0")

        async def increment_50_times():
            done = conflicts = 0
            kv = await store.get(key)
            while done < 50:
                value = str(int(kv.value) + 1).encode()
                try:
                    rev = await store.update(key, value, kv.mod_revision)
                    kv = KeyValue(key, value, kv.create_revision, rev, kv.version + 1)
                    done, conflicts = done + 1, 0
                except Conflict as lost:
                    # Retry from the value the conflict carries: no second read.
                    assert lost.current is not None
                    kv = lost.current
                    # Jittered exponential back-off, as any CAS loop under contention.
                    conflicts += 1
                    await asyncio.sleep(random.random() * 0.0005 * 2 ** min(conflicts, 6))

        await asyncio.gather(*(increment_50_times() for _ in range(100)))
        assert (await store.get(key)).value == b"5000"

    # --- range ---------------------------------------------------------------------------

    async def test_range_is_prefix_scoped_and_ordered(self, store: Store):
        for key in (b"b/2", b"a/1", b"b/1", b"ab", b"b", b"b/\xff", b"c/1"):
            await store.create(P + key, key)
        result = await store.range(P + b"b/")
        assert [kv.key for kv in result.items] == [P + b"b/1", P + b"b/2", P + b"b/\xff"]
        assert result.revision == await store.current_revision()
        assert not result.more

    async def test_range_pages_with_limit_and_continue(self, store: Store):
        keys = [P + b"page/%03d" % i for i in range(25)]
        for key in keys:
            await store.create(key, b"v")
        seen, continue_from, revision = [], None, None
        while True:
            result = await store.range(
                P + b"page/", limit=10, continue_from=continue_from, revision=revision
            )
            seen += [kv.key for kv in result.items]
            revision = result.revision
            if not result.more:
                break
            continue_from = result.continue_from
            # writes between pages do not show: the pages read at one revision
            await store.create(P + b"page/%03d-late" % len(seen), b"v")
        assert seen == keys

    async def test_range_at_past_revision(self, store: Store):
        r1 = await store.create(P + b"h/a", b"a1")
        await store.create(P + b"h/b", b"b1")
        snapshot = await store.current_revision()
        await store.update(P + b"h/a", b"a2", r1)
        await store.delete(P + b"h/b")
        await store.create(P + b"h/c", b"c1")
        past = await store.range(P + b"h/", revision=snapshot)
        assert [(kv.key, kv.value) for kv in past.items] == [
            (P + b"h/a", b"a1"),
            (P + b"h/b", b"b1"),
        ]
        assert past.revision == snapshot
        now = await store.range(P + b"h/")
        assert [(kv.key, kv.value) for kv in now.items] == [
            (P + b"h/a", b"a2"),
            (P + b"h/c", b"c1"),
        ]
        paged = await store.range(P + b"h/", revision=snapshot, limit=1)
        assert [kv.value for kv in paged.items] == [b"a1"] and paged.more

    # --- watch ---------------------------------------------------------------------------

    async def test_watch_from_revision_in_order_with_prev_values(self, store: Store):
        r1 = await store.create(P + b"w/a", b"1")
        await store.create(P + b"other", b"x")
        r3 = await store.update(P + b"w/a", b"2", r1)
        await store.delete(P + b"w/a")
        watch = store.watch(P + b"w/", r1)
        try:
            events = await _next_events(watch, 3)
        finally:
            await watch.aclose()
        assert [(e.type, e.kv.value, e.revision) for e in events] == [
            (PUT, b"1", r1),
            (PUT, b"2", r3),
            (DELETE, b"", r3 + 1),
        ]
        assert events[0].prev_kv is None
        assert events[1].prev_kv.value == b"1"
        assert events[2].prev_kv.value == b"2"

    async def test_watch_from_now_sees_only_new_events_live(self, store: Store):
        await store.create(P + b"live/old", b"x")
        watch = store.watch(P + b"live/")
        try:
            first = asyncio.ensure_future(watch.__anext__())
            await asyncio.sleep(0.2)
            rev = await store.create(P + b"live/new", b"y")
            event = await asyncio.wait_for(first, 10)
        finally:
            await watch.aclose()
        assert (event.kv.key, event.revision) == (P + b"live/new", rev)

    async def test_watch_has_no_gaps_or_duplicates_under_concurrent_writes(self, store: Store):
        start = await store.current_revision() + 1
        watch = store.watch(P + b"g/", start)
        try:
            await asyncio.gather(*(store.create(P + b"g/%04d" % i, b"v") for i in range(500)))
            events = await _next_events(watch, 500, timeout=60)
        finally:
            await watch.aclose()
        assert [e.revision for e in events] == list(range(start, start + 500))
        assert len({e.kv.key for e in events}) == 500

    async def test_watch_resumes_from_any_revision_in_history(self, store: Store):
        revs = [await store.create(P + b"r/%d" % i, b"v") for i in range(10)]
        for resume_at in (revs[0], revs[4], revs[9]):
            watch = store.watch(P + b"r/", resume_at)
            try:
                events = await _next_events(watch, revs[-1] - resume_at + 1)
            finally:
                await watch.aclose()
            assert [e.revision for e in events] == [r for r in revs if r >= resume_at]

    async def test_watch_and_range_below_compaction_raise_compacted(self, store: Store):
        first = await store.create(P + b"k/1", b"v")
        await store.update(P + b"k/1", b"v2", first)
        last = await store.create(P + b"k/2", b"v")
        await store.compact(last)
        watch = store.watch(P + b"k/", first)
        with pytest.raises(Compacted) as info:
            await asyncio.wait_for(watch.__anext__(), 10)
        assert info.value.compacted_revision is not None
        assert info.value.compacted_revision >= last
        with pytest.raises(Compacted):
            await store.range(P + b"k/", revision=first)
        # From the compaction revision on, history is still there.
        watch = store.watch(P + b"k/", last)
        try:
            (event,) = await _next_events(watch, 1)
        finally:
            await watch.aclose()
        assert event.revision == last
        assert [kv.value for kv in (await store.range(P + b"k/")).items] == [b"v2", b"v"]

    # --- sizes and bytes ---------------------------------------------------------------

    async def test_one_mebibyte_values(self, store: Store):
        value = os.urandom(1024 * 1024)
        await store.create(P + b"big", value)
        assert (await store.get(P + b"big")).value == value

    async def test_values_over_the_limit_are_too_large(self, store: Store):
        with pytest.raises(TooLarge):
            await store.create(P + b"huge", b"x" * (self.max_value_bytes + 1))
        with pytest.raises(NotFound):
            await store.get(P + b"huge")

    async def test_arbitrary_bytes_in_keys_and_values(self, store: Store):
        samples = {
            P + bytes([0, 1, 2, 255]): bytes(range(256)),
            P + b"\xff\xff": b"\x00",
            P + "ключ/✓".encode(): b"",
            P + b"\x00": b"\xff" * 10,
        }
        for key, value in samples.items():
            await store.create(key, value)
        for key, value in samples.items():
            assert (await store.get(key)).value == value
        assert len((await store.range(P)).items) == len(samples)

    async def test_many_keys(self, store: Store):
        count = self.many_keys
        for start in range(0, count, 2_000):
            await asyncio.gather(
                *(
                    store.create(P + b"many/%06d" % i, b"v")
                    for i in range(start, min(count, start + 2_000))
                )
            )
        result = await store.range(P + b"many/")
        assert len(result.items) == count
        assert result.items[-1].key == P + b"many/%06d" % (count - 1)
        page = await store.range(P + b"many/", limit=1000, continue_from=P + b"many/050000")
        assert page.items[0].key == P + b"many/050000" and len(page.items) == 1000

    # --- bad input and lifecycle ----------------------------------------------------------

    @pytest.mark.parametrize(
        ("key", "value"),
        [(b"", b"v"), ("text", b"v"), (None, b"v"), (P + b"k", "text"), (P + b"k", None)],
    )
    async def test_bad_keys_and_values_are_invalid_arguments(self, store: Store, key, value):
        with pytest.raises(InvalidArgument):
            await store.create(key, value)

    async def test_closed_store_is_unavailable(self, store: Store):
        await store.close()
        with pytest.raises(Unavailable):
            await store.get(P + b"x")
        with pytest.raises(Unavailable):
            await store.create(P + b"x", b"v")
