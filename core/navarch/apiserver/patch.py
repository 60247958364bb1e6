"""The three patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
Kubernetes' strategic merge patch for the built-in types' keyed lists.

All functions return a new document and never change their inputs.
"""

from __future__ import annotations

import copy
from typing import Any

import json_merge_patch
import jsonpatch
import jsonpointer

from navarch.api.errors import show
from navarch.apiserver import patch_errors
from navarch.apiserver.errors import ApiError, bad_request

MERGE, JSON, STRATEGIC = (
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
)

# Strategic merge: list field name -> merge key (lists of objects merged item by item).
# Kubernetes declares these per type (``patchStrategy:"merge" patchMergeKey:...`` in
# types.go); within the kinds Navarch serves the field names alone identify them. Every
# other list is atomic: a patch replaces it whole. Among those are lists that look keyed
# but are not: ``tolerations``, ``readinessGates``, ``containerStatuses``, a container's
# ``resources.claims`` and a Node's ``spec.taints`` (so ``kubectl taint`` sends the whole
# list). Server-side apply has its own table beside this one (``apply.schema``): a few
# lists merge differently there.
MERGE_KEYS = {
    # PodSpec
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "schedulingGates": "name",
    "resourceClaims": "name",
    # Container
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",  # and ContainerStatus.volumeMounts
    "volumeDevices": "devicePath",
    # statuses and metadata
    "conditions": "type",  # Pod, Node, Namespace, Deployment and ReplicaSet status
    "podIPs": "ip",
    "hostIPs": "ip",
    "addresses": "type",
    "ownerReferences": "uid",
}
# Lists of scalars merged as sets (patchStrategy "merge"): ObjectMeta.finalizers and
# NodeSpec.podCIDRs. (A Namespace's ``spec.finalizers`` is atomic in Kubernetes, but its
# changes are not kept on update anyway: only the finalize subresource writes it.)
MERGED_SCALAR_LISTS = {"finalizers", "podCIDRs"}


def invalid_patch(message: str, field: str = "") -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f"the patch could not be applied: {message}",
        details={"causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]},
    )


# --- JSON merge patch and JSON patch: maintained libraries ---------------------------------
# RFC 7386 and RFC 6902 are generic and fully specified, so they come from libraries:
# json-merge-patch (RFC 7386, Open Contracting) and jsonpatch (RFC 6902, with jsonpointer
# for RFC 6901 pointers; the most used Python implementation, typed, released in 2026).
# Both change the document they are given, so each gets a deep copy.


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    return json_merge_patch.merge(copy.deepcopy(target), copy.deepcopy(patch))


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902. A malformed patch is 400 BadRequest; one that does not fit the document
    (a missing path, a failed test, an index out of range) is 422 Invalid, as in Kubernetes.

    Operations are applied one at a time so that a failure names its operation; the
    library's own messages are never shown (see ``patch_errors``)."""
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a list of operations")
    for index, operation in enumerate(operations):
        problem = patch_errors.malformed(operation)
        if problem is not None:
            raise bad_request(f"invalid JSON patch: operation {index}: {problem}")
    result = document
    for index, operation in enumerate(operations):
        try:
            result = jsonpatch.JsonPatch([operation]).apply(result, in_place=False)
        except jsonpatch.InvalidJsonPatch:
            raise bad_request(
                f"invalid JSON patch: operation {index}: {show(operation)} is not an RFC 6902 "
                "operation"
            ) from None
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException):
            raise patch_errors.not_applicable(result, operation) from None
    return copy.deepcopy(result) if result is document else result


# --- strategic merge patch --------------------------------------------------------------------


def strategic_merge_patch(original: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        raise bad_request("a strategic merge patch must be a JSON object")
    return _strategic(original if isinstance(original, dict) else {}, patch)


def _strategic(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return {}
    result = dict(original)
    retain = patch.get("$retainKeys")
    orders = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    for key, value in patch.items():
        if key.startswith("$"):
            if key.startswith("$deleteFromPrimitiveList/"):
                field = key.split("/", 1)[1]
                if not isinstance(value, list):
                    raise bad_request(
                        f"strategic merge patch: {key} must be a list of the values to "
                        f"remove, not {show(value)}"
                    )
                result[field] = [v for v in result.get(field) or [] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            result[key] = _strategic(current if isinstance(current, dict) else {}, value)
        elif isinstance(value, list) and key in MERGE_KEYS:
            result[key] = _merge_keyed_list(key, result.get(key) or [], value)
        elif isinstance(value, list) and key in MERGED_SCALAR_LISTS:
            merged = list(result.get(key) or [])
            result[key] = merged + [v for v in value if v not in merged]
        else:
            result[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(result.get(field), list) and field in MERGE_KEYS and isinstance(order, list):
            result[field] = _reorder(result[field], order, MERGE_KEYS[field])
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_keyed_list(field: str, original: list[Any], patch: list[Any]) -> list[Any]:
    merge_key = MERGE_KEYS[field]
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    result = [copy.deepcopy(item) for item in original]
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise bad_request(
                f'strategic merge patch: the items of "{field}" are merged by their '
                f'"{merge_key}", which this item lacks: {show(item)}'
            )
        index = next(
            (
                i
                for i, cur in enumerate(result)
                if isinstance(cur, dict) and cur.get(merge_key) == item[merge_key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append({k: v for k, v in item.items() if k != "$patch"})
        else:
            result[index] = _strategic(result[index], item)
    return result


def _reorder(items: list[Any], order: list[Any], merge_key: str) -> list[Any]:
    rank = {
        show(entry.get(merge_key)): i for i, entry in enumerate(order) if isinstance(entry, dict)
    }

    def position(item: Any) -> int:
        return (
            rank.get(show(item.get(merge_key)), len(rank)) if isinstance(item, dict) else len(rank)
        )

    return sorted(items, key=position)


def apply(patch_type: str, document: dict[str, Any], patch: Any) -> Any:
    if patch_type == MERGE:
        if not isinstance(patch, dict):
            raise bad_request("a merge patch must be a JSON object")
        return merge_patch(document, patch)
    if patch_type == JSON:
        return json_patch(document, patch)
    return strategic_merge_patch(document, patch)
