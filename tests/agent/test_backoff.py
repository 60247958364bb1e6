"""Restart back-off: immediate first retry, then doubling from the last failure, capped,
reset after a long quiet time (a fake clock: no sleeping)."""

from __future__ import annotations

from navarch.agent.backoff import Backoff


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_first_try_is_immediate_then_doubling_to_the_cap():
    clock = Clock()
    backoff = Backoff(10, 40, clock)
    assert backoff.in_backoff("k") == 0
    delays = [backoff.next("k") for _ in range(5)]
    assert delays == [10, 20, 40, 40, 40]


def test_wait_counts_from_the_later_of_the_try_and_the_failure():
    clock = Clock()
    backoff = Backoff(10, 300, clock)
    backoff.next("k")  # tried at 1000: next try waits 10 s
    assert backoff.in_backoff("k") == 10
    clock.now = 1004
    assert backoff.in_backoff("k", since=1003) == 9  # the container failed at 1003
    clock.now = 1013
    assert backoff.in_backoff("k", since=1003) == 0


def test_quiet_for_twice_the_cap_starts_over():
    clock = Clock()
    backoff = Backoff(10, 40, clock)
    for _ in range(4):
        backoff.next("k")
    clock.now += 81
    assert backoff.next("k") == 10


def test_forget_prefix_drops_one_pods_keys():
    backoff = Backoff(10, 40, Clock())
    backoff.next("u1/a")
    backoff.next("u2/a")
    backoff.forget_prefix("u1/")
    assert backoff.in_backoff("u1/a") == 0 and backoff.in_backoff("u2/a") > 0


def test_a_back_off_left_alone_for_twice_the_cap_is_forgiven():
    clock = Clock()
    backoff = Backoff(10, 40, clock)
    for _ in range(4):
        backoff.next("k")  # 40 s now
    clock.now += 81
    assert backoff.in_backoff("k", since=clock.now - 1) == 0
