"""Moving between kubectl's client-side apply and server-side apply, as Kubernetes does.

Client-side apply keeps its last configuration in an annotation and writes through the
"kubectl-client-side-apply" manager. Two rules, both only for the manager "kubectl"
(kubectl's own server-side apply; any other name opts out):

- Upgrade without conflicts: a conflict on a field the annotation lists, with the value
  the object still has, is the same user's intent moving to server-side apply, so the
  apply proceeds as if forced.
- The annotation follows: when the object carries it, each server-side apply rewrites
  it to the configuration applied, so a later client-side ``kubectl apply`` computes
  its three-way patch from what was really applied last.
"""

from __future__ import annotations

from typing import Any

import orjson

from navarch.apiserver.apply import fieldset
from navarch.apiserver.apply.fieldset import FieldSet

ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
KUBECTL = "kubectl"


def _annotations(obj: dict[str, Any]) -> dict[str, Any]:
    annotations = (obj.get("metadata") or {}).get("annotations")
    return annotations if isinstance(annotations, dict) else {}


def allowed_conflicts(live: dict[str, Any], untracked: tuple[str, ...]) -> FieldSet:
    """Fields the live object's last client-side configuration set, with the value it
    still has: a conflict on these does not stop kubectl's server-side apply."""
    text = _annotations(live).get(ANNOTATION)
    if not isinstance(text, str) or not text:
        return frozenset()
    try:
        last = orjson.loads(text)
    except orjson.JSONDecodeError:
        return frozenset()
    if not isinstance(last, dict) or (last.get("apiVersion"), last.get("kind")) != (
        live.get("apiVersion"),
        live.get("kind"),
    ):
        return frozenset()
    last_tracked = fieldset.tracked(last, exclude=untracked)
    changed_since = fieldset.compare(
        last_tracked, fieldset.tracked(live, exclude=untracked)
    ).modified
    return fieldset.fields_of(last_tracked) - changed_since


def follow(result: dict[str, Any], config: dict[str, Any]) -> None:
    """Rewrite the annotation on ``result`` (in place) when it has one."""
    if ANNOTATION not in _annotations(result):
        return
    applied = {**config, "metadata": dict(config.get("metadata") or {})}
    annotations = dict(applied["metadata"].get("annotations") or {})
    annotations.pop(ANNOTATION, None)
    if annotations:
        applied["metadata"]["annotations"] = annotations
    else:
        applied["metadata"].pop("annotations", None)
    text = orjson.dumps(applied, option=orjson.OPT_SORT_KEYS).decode()
    result["metadata"]["annotations"][ANNOTATION] = text
