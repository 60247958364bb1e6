"""A workload's rollout history as kubectl's history viewers read it.

A Deployment's revisions are its ReplicaSets (the revision number in the
``deployment.kubernetes.io/revision`` annotation, the template without its
``pod-template-hash`` label). A DaemonSet's and a StatefulSet's are the
ControllerRevisions it controls: ``revision`` is the number and ``data`` the
strategic-merge patch ``{"spec": {"template": {…, "$patch": "replace"}}}`` the
controller recorded (see :mod:`navarch.controllers.history`), whose template is what
``rollout history --revision=N`` shows and ``rollout undo`` puts back.

Plain wire dicts, read with the session's requests: ``navctl rollout`` does not load
the object model or the async client.
"""

from __future__ import annotations

import copy
from typing import Any

import attrs

from navarch.cli.navctl.session import Session, find_resource, resource_path

CHANGE_CAUSE = "kubernetes.io/change-cause"
DEPLOYMENT_REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
PATCH_DIRECTIVE = "$patch"


@attrs.frozen
class Revision:
    """One entry of a workload's history."""

    number: int
    template: dict[str, Any]
    annotations: dict[str, str]
    source: dict[str, Any]  # the ReplicaSet or ControllerRevision it was read from

    @property
    def change_cause(self) -> str:
        return self.annotations.get(CHANGE_CAUSE) or "<none>"


def controlled_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    uid = (owner.get("metadata") or {}).get("uid")
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("controller") and ref.get("uid") == uid for ref in refs)


async def history(session: Session, owner: dict[str, Any]) -> dict[int, Revision]:
    """``owner``'s revisions by number (a Deployment's, DaemonSet's or StatefulSet's)."""
    namespace = (owner.get("metadata") or {}).get("namespace") or session.namespace
    if owner.get("kind") == "Deployment":
        return await _replicaset_history(session, owner, namespace)
    return await _controller_revision_history(session, owner, namespace)


async def _replicaset_history(
    session: Session, owner: dict[str, Any], namespace: str
) -> dict[int, Revision]:
    listed = await session.request("GET", resource_path(find_resource("replicasets"), namespace))
    found: dict[int, Revision] = {}
    for rs in listed.get("items") or []:
        annotations = (rs.get("metadata") or {}).get("annotations") or {}
        number = str(annotations.get(DEPLOYMENT_REVISION) or "")
        if controlled_by(rs, owner) and number.isdigit():
            template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
            labels = (template.get("metadata") or {}).get("labels")
            if labels:
                labels.pop(POD_TEMPLATE_HASH, None)
            found[int(number)] = Revision(int(number), template, dict(annotations), rs)
    return found


async def _controller_revision_history(
    session: Session, owner: dict[str, Any], namespace: str
) -> dict[int, Revision]:
    listed = await session.request(
        "GET", resource_path(find_resource("controllerrevisions.apps"), namespace)
    )
    found: dict[int, Revision] = {}
    for revision in listed.get("items") or []:
        if not controlled_by(revision, owner):
            continue
        number = int(revision.get("revision") or 0)
        annotations = (revision.get("metadata") or {}).get("annotations") or {}
        found[number] = Revision(number, template_of(revision), dict(annotations), revision)
    return found


def template_of(revision: dict[str, Any]) -> dict[str, Any]:
    """The pod template a ControllerRevision's data holds, without the patch
    directive."""
    template = copy.deepcopy(((revision.get("data") or {}).get("spec") or {}).get("template"))
    if not isinstance(template, dict):
        return {}
    template.pop(PATCH_DIRECTIVE, None)
    return template


def previous(revisions: dict[int, Revision]) -> Revision | None:
    """What ``rollout undo`` without ``--to-revision`` goes back to: the highest
    revision below the newest (kubectl's findHistory)."""
    numbers = sorted(revisions)
    return revisions[numbers[-2]] if len(numbers) >= 2 else None
