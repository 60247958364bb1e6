"""The scheduling queue's parking of pods that fit nowhere, and the race between a
pod's cycle and a cluster change (a node registering while the pod was being
scheduled against the nodes known before)."""

from __future__ import annotations

from navarch.scheduler.queue import INITIAL_BACKOFF, UNSCHEDULABLE_TIMEOUT, SchedulingQueue


async def test_a_pod_that_fits_nowhere_is_parked_until_the_cluster_changes():
    queue = SchedulingQueue()
    queue.add("default/web")
    assert await queue.pop() == "default/web"
    queue.retry_later("default/web", unschedulable=True)
    due = queue._next_due()
    assert due is not None and due > INITIAL_BACKOFF  # parked: the long wait
    queue.cluster_changed()
    due = queue._next_due()
    assert due is not None and due <= INITIAL_BACKOFF  # a change: back-off only


async def test_a_change_during_the_pods_cycle_is_not_lost():
    """The node came while the pod was out of the queue being filtered (0 nodes then):
    parking it would keep it Pending for a minute beside a node it fits."""
    queue = SchedulingQueue()
    queue.add("default/web")
    assert await queue.pop() == "default/web"
    queue.cluster_changed()  # the node registers mid-cycle
    queue.retry_later("default/web", unschedulable=True)
    due = queue._next_due()
    assert due is not None and due <= INITIAL_BACKOFF < UNSCHEDULABLE_TIMEOUT
