"""Deletion as Kubernetes does it, checked on the generic storage in-process (over a
real LMDB store): grace periods, finalizers, DELETE admission (removing pods whose
grace period ran out is the pod-termination controller's: tests/controllers)."""

from __future__ import annotations

import pytest

from navarch import hookimpl
from navarch.admission import DELETE, handles
from navarch.api import errors as field_errors
from navarch.apiserver.errors import ApiError
from navarch.resources.core import PODS


def pod(name: str, **spec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "image": "127.0.0.1:5000/app:1"}], **spec},
    }


async def test_a_pod_goes_once_its_last_finalizer_is_removed(storage):
    body = pod("held", nodeName="n1")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await storage.create(PODS, "default", body)
    marked = await storage.delete(PODS, "default", "held", {"gracePeriodSeconds": 30})
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    # The agent confirms (grace 0): with a finalizer left, the pod waits for it.
    waiting = await storage.delete(PODS, "default", "held", {"gracePeriodSeconds": 0})
    assert waiting["metadata"]["deletionGracePeriodSeconds"] == 0

    def release(obj):
        obj["metadata"]["finalizers"] = []
        return obj

    await storage.guaranteed_update(PODS, "default", "held", release)
    with pytest.raises(ApiError, match="not found"):
        await storage.get(PODS, "default", "held")


async def test_a_second_delete_with_a_shorter_grace_brings_deletion_forward(storage):
    await storage.create(PODS, "default", pod("slow", nodeName="n1"))
    first = await storage.delete(PODS, "default", "slow", {"gracePeriodSeconds": 30})
    second = await storage.delete(PODS, "default", "slow", {"gracePeriodSeconds": 2})
    assert second["metadata"]["deletionGracePeriodSeconds"] == 2
    assert second["metadata"]["deletionTimestamp"] < first["metadata"]["deletionTimestamp"]
    longer = await storage.delete(PODS, "default", "slow", {"gracePeriodSeconds": 60})
    assert longer["metadata"]["deletionGracePeriodSeconds"] == 2  # never pushed back


async def test_finished_pods_are_deleted_at_once(storage):
    await storage.create(PODS, "default", pod("done", nodeName="n1"))

    def succeeded(obj):
        obj["status"] = {"phase": "Succeeded"}
        return obj

    from navarch.apiserver.objects import WriteContext

    await storage.guaranteed_update(
        PODS, "default", "done", succeeded, WriteContext(subresource="status")
    )
    await storage.delete(PODS, "default", "done", {})
    with pytest.raises(ApiError, match="not found"):
        await storage.get(PODS, "default", "done")


class KeepLabelled:
    """A policy plugin refusing to delete objects labelled keep=true."""

    @hookimpl
    @handles(operations=(DELETE,))
    def navarch_admission_validate(self, request):
        if (request.obj.metadata.labels or {}).get("keep") == "true":
            return [field_errors.forbidden("metadata.labels", "labelled keep=true")]
        return None


async def test_admission_sees_deletes(storage):
    storage.pm.register(KeepLabelled())
    body = pod("kept")
    body["metadata"]["labels"] = {"keep": "true"}
    await storage.create(PODS, "default", body)
    with pytest.raises(ApiError) as info:
        await storage.delete(PODS, "default", "kept", {})
    assert info.value.code == 422
    assert (await storage.get(PODS, "default", "kept"))["metadata"]["name"] == "kept"
