"""The controllers' work queue: one entry per key however often it is added, never
a key to two workers at once, delayed adds, per-key back-off and the token bucket."""

from __future__ import annotations

import asyncio

import pytest

from navarch.controllers.workqueue import QueueShutDown, TokenBucket, WorkQueue


async def test_a_key_added_many_times_is_queued_once() -> None:
    queue = WorkQueue("t")
    for _ in range(5):
        queue.add("default/a")
    queue.add("default/b")
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["default/a", "default/b"]


async def test_a_key_being_processed_is_not_handed_out_again_until_done() -> None:
    queue = WorkQueue("t")
    queue.add("k")
    key = await queue.get()
    queue.add("k")  # changed again while a worker syncs it
    assert len(queue) == 0  # not handed to a second worker meanwhile
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0.01)
    assert not getter.done()
    queue.done(key)
    assert await asyncio.wait_for(getter, 5) == "k"  # once more, after the first sync


async def test_add_after_keeps_the_earliest_deadline() -> None:
    queue = WorkQueue("t")
    queue.add_after("k", 60)
    queue.add_after("k", 0.05)
    queue.add_after("k", 30)
    assert await asyncio.wait_for(queue.get(), 5) == "k"


async def test_rate_limited_back_off_doubles_per_key_and_forget_resets() -> None:
    queue = WorkQueue("t", base_delay=0.01, max_delay=0.04)
    delays = []
    for _ in range(4):
        queue.add_rate_limited("k")
        timer = queue._timers["k"]
        delays.append(round(timer.when() - asyncio.get_running_loop().time(), 2))
        timer.cancel()
        queue._timers.clear()
    assert delays == [0.01, 0.02, 0.04, 0.04]  # doubling, capped
    assert queue.failures("k") == 4
    queue.forget("k")
    assert queue.failures("k") == 0


def test_token_bucket_allows_a_burst_then_paces() -> None:
    now = [100.0]  # the bucket's clock stands still unless the test moves it
    bucket = TokenBucket(rate=10.0, burst=3, clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)
    assert bucket.reserve() == pytest.approx(0.2)
    now[0] += 1.0  # a second later: 10 tokens earned, 2 owed, at most 3 saved
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)


async def test_shut_down_ends_waiting_workers() -> None:
    queue = WorkQueue("t")
    waiting = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.shut_down()
    with pytest.raises(QueueShutDown):
        await asyncio.wait_for(waiting, 5)
