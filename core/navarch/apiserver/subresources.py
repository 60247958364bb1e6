"""Subresources with semantics of their own, each a small REST object beside its
resource (Kubernetes' BindingREST and ScaleREST): binding assigns a pod to a node, scale
reads and writes the replica count of a Deployment or ReplicaSet."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from navarch.apiserver import discovery, errors, httpio, patch
from navarch.apiserver.objects import Obj, WriteContext, now
from navarch.apiserver.requestinfo import RequestInfo
from navarch.apiserver.storage import Storage
from navarch.resources.spec import ScalePaths

PATCH_TYPES = (patch.MERGE, patch.JSON, patch.STRATEGIC)


class BindingREST:
    """POST pods/<name>/binding: set spec.nodeName once, mark the pod scheduled, and copy
    the Binding's annotations onto the pod (the scheduler explains itself that way)."""

    def __init__(self, storage: Storage):
        self.storage = storage

    async def create(self, request: web.Request, info: RequestInfo, ctx: WriteContext) -> Any:
        assert info.res is not None
        body = await httpio.read_json(request)
        node = ((body or {}).get("target") or {}).get("name") if isinstance(body, dict) else None
        if not isinstance(node, str) or not node:
            raise errors.invalid(
                "Binding",
                "",
                info.name,
                [
                    {
                        "reason": "FieldValueRequired",
                        "message": "Required value",
                        "field": "target.name",
                    }
                ],
            )
        annotations = ((body.get("metadata") or {}).get("annotations") or {}) if body else {}
        name = info.name
        body_name = (body.get("metadata") or {}).get("name")
        if body_name not in (None, "", name):
            raise errors.bad_request(
                f"the Binding's name ({body_name}) does not match the pod on the URL ({name})"
            )

        def bind(pod: Obj) -> Obj:
            if pod["metadata"].get("deletionTimestamp"):
                raise errors.conflict("pods", "", name)
            bound = (pod.get("spec") or {}).get("nodeName")
            if bound:
                raise errors.already_assigned(name, bound)
            pod.setdefault("spec", {})["nodeName"] = node
            if annotations:
                pod["metadata"]["annotations"] = {
                    **(pod["metadata"].get("annotations") or {}),
                    **{str(k): str(v) for k, v in annotations.items()},
                }
            _set_scheduled(pod)
            return pod

        await self.storage.guaranteed_update(info.res, info.namespace, name, bind, ctx)
        return httpio.success_status(201)


def _set_scheduled(pod: Obj) -> None:
    """PodScheduled=True, replacing an earlier Unschedulable verdict (kube's assignPod)."""
    status = pod.setdefault("status", {}) or {}
    pod["status"] = status
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
    conditions.insert(
        0,
        {
            "type": "PodScheduled",
            "status": "True",
            "lastProbeTime": None,
            "lastTransitionTime": now(),
        },
    )
    status["conditions"] = conditions


class ScaleREST:
    """GET/PUT/PATCH <workload>/<name>/scale as an autoscaling/v1 Scale."""

    def __init__(self, storage: Storage):
        self.storage = storage

    async def get(self, info: RequestInfo) -> Any:
        assert info.res is not None
        paths = _scale_paths(info)
        return discovery.scale_of(
            await self.storage.get(info.res, info.namespace, info.name), paths
        )

    async def update(self, request: web.Request, info: RequestInfo, ctx: WriteContext) -> Any:
        assert info.res is not None
        patching = request.method == "PATCH"
        if patching and request.content_type not in PATCH_TYPES:
            raise errors.unsupported_media_type(request.content_type, list(PATCH_TYPES))
        body = await httpio.read_json(request, check_type=not patching)
        name = info.name
        paths = _scale_paths(info)

        def scale(current: Obj) -> Obj:
            view = discovery.scale_of(current, paths)
            wanted = patch.apply(request.content_type, view, body) if patching else body
            if not isinstance(wanted, dict):
                raise errors.bad_request("the Scale must be a JSON object")
            replicas = (wanted.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid(
                    "Scale",
                    "autoscaling",
                    name,
                    [
                        {
                            "reason": "FieldValueInvalid",
                            "message": f"Invalid value: {replicas!r}: must be greater than "
                            "or equal to 0",
                            "field": "spec.replicas",
                        }
                    ],
                )
            discovery.set_scale(current, paths, replicas)
            # The Scale's resourceVersion, if any, is the workload's: a precondition.
            version = (wanted.get("metadata") or {}).get("resourceVersion")
            if version not in (None, ""):
                current["metadata"]["resourceVersion"] = version
            return current

        written = await self.storage.guaranteed_update(info.res, info.namespace, name, scale, ctx)
        return discovery.scale_of(written.obj, paths)


def _scale_paths(info: RequestInfo) -> ScalePaths:
    assert info.res is not None and info.res.scale is not None  # routed: it has scale
    return info.res.scale
