"""Which ReplicaSets are a Deployment's: those it controls (by uid), plus orphans its
selector matches, which it adopts (Kubernetes' ReplicaSet claiming); one it controls
whose labels no longer match is released. Adoption and release are JSON patches that
test the ReplicaSet's uid, so a ReplicaSet recreated under the same name meanwhile is
never taken for the one looked at."""

from __future__ import annotations

from typing import Any

from navarch.api.field_checks import validate_label_selector
from navarch.api.selectors import Selector
from navarch.client.client import JSON_PATCH
from navarch.client.errors import NotFound
from navarch.controllers.owners import controller_of, owner_reference


def selector_of(deployment: Any) -> Selector | None:
    """The Deployment's selector; None when absent, empty or invalid (matches nothing:
    an empty selector would select every ReplicaSet of the namespace)."""
    selector = deployment.spec.selector if deployment.spec else None
    if selector is None or not (selector.match_labels or selector.match_expressions):
        return None
    errors, parsed = validate_label_selector(selector, "spec.selector")
    return None if errors else parsed


async def claim(client: Any, deployment: Any, replicasets: list[Any], log: Any) -> list[Any]:
    """The Deployment's ReplicaSets among ``replicasets`` (cached, of its namespace),
    adopting and releasing as needed; returns model objects."""
    selector = selector_of(deployment)
    uid = deployment.metadata.uid
    deleting = bool(deployment.metadata.deletion_timestamp)
    owned: list[Any] = []
    fresh_checked: bool | None = None
    for rs in replicasets:
        ref = controller_of(rs)
        matches = selector is not None and selector.matches(rs.labels)
        if ref is not None:
            if ref.uid != uid:
                continue
            if matches or deleting:
                owned.append(rs)
            else:
                await _release(client, rs, uid, log)
            continue
        if deleting or not matches or rs.metadata.deletion_timestamp:
            continue
        if fresh_checked is None:
            fresh_checked = await _still_there(client, deployment)
        if fresh_checked:
            adopted = await _adopt(client, rs, deployment, log)
            if adopted is not None:
                owned.append(adopted)
    return owned


async def _still_there(client: Any, deployment: Any) -> bool:
    """Adopt only for a Deployment that still is (read now, not from the cache)."""
    try:
        live = await client.deployments.get(deployment.name, deployment.namespace)
    except NotFound:
        return False
    return bool(
        live.metadata.uid == deployment.metadata.uid and not live.metadata.deletion_timestamp
    )


async def _adopt(client: Any, rs: Any, deployment: Any, log: Any) -> Any | None:
    ref = owner_reference(deployment)
    refs = rs.metadata.owner_references
    patch = [
        {"op": "test", "path": "/metadata/uid", "value": rs.metadata.uid},
        {"op": "add", "path": "/metadata/ownerReferences/-", "value": ref}
        if refs
        else {"op": "add", "path": "/metadata/ownerReferences", "value": [ref]},
    ]
    try:
        adopted = await client.replicasets.patch(
            rs.name, patch, rs.namespace, patch_type=JSON_PATCH
        )
    except NotFound:
        return None
    log.bind(replicaset=rs.name).info("adopted an orphan replica set")
    return adopted


async def _release(client: Any, rs: Any, uid: str, log: Any) -> None:
    index = next(i for i, ref in enumerate(rs.metadata.owner_references or ()) if ref.uid == uid)
    patch = [
        {"op": "test", "path": "/metadata/uid", "value": rs.metadata.uid},
        {"op": "test", "path": f"/metadata/ownerReferences/{index}/uid", "value": uid},
        {"op": "remove", "path": f"/metadata/ownerReferences/{index}"},
    ]
    try:
        await client.replicasets.patch(rs.name, patch, rs.namespace, patch_type=JSON_PATCH)
    except NotFound:
        return
    log.bind(replicaset=rs.name).info("released a replica set that no longer matches")
