"""The three patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
Kubernetes' strategic merge patch for the built-in types' keyed lists.

All functions return a new document and never change their inputs.
"""

from __future__ import annotations

import copy
from typing import Any

from navarch.apiserver.errors import ApiError, bad_request

MERGE, JSON, STRATEGIC = (
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
)

# Strategic merge: list field name -> merge key (lists of objects merged item by item).
# Kubernetes declares these per type (patchMergeKey); within the kinds Navarch serves
# the field names alone identify them.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumes": "name",
    "imagePullSecrets": "name",
    "conditions": "type",
    "taints": "key",
    "ownerReferences": "uid",
    "addresses": "type",
    "hostAliases": "ip",
}
# Lists of scalars merged as sets (patchStrategy "merge").
MERGED_SCALAR_LISTS = {"finalizers"}


def invalid_patch(message: str, field: str = "") -> ApiError:
    return ApiError(
        422,
        "Invalid",
        f"the patch could not be applied: {message}",
        details={"causes": [{"reason": "FieldValueInvalid", "message": message, "field": field}]},
    )


# --- JSON merge patch -------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- JSON patch ---------------------------------------------------------------------------


def json_patch(document: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a list of operations")
    doc = copy.deepcopy(document)
    for index, operation in enumerate(operations):
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise bad_request(f"JSON patch operation {index} needs 'op' and 'path'")
        op, path = operation["op"], operation["path"]
        if op in ("add", "replace", "test") and "value" not in operation:
            raise bad_request(f"JSON patch operation {index} ({op}) needs 'value'")
        try:
            if op == "add":
                doc = _add(doc, path, copy.deepcopy(operation["value"]))
            elif op == "remove":
                doc, _ = _remove(doc, path)
            elif op == "replace":
                doc, _ = _remove(doc, path)
                doc = _add(doc, path, copy.deepcopy(operation["value"]))
            elif op in ("move", "copy"):
                source = operation.get("from")
                if not isinstance(source, str):
                    raise bad_request(f"JSON patch operation {index} ({op}) needs 'from'")
                if op == "move":
                    doc, value = _remove(doc, source)
                else:
                    value = copy.deepcopy(_get(doc, source))
                doc = _add(doc, path, value)
            elif op == "test":
                if _get(doc, path) != operation["value"]:
                    raise invalid_patch(f"test operation {index} failed at {path}", path)
            else:
                raise bad_request(f"JSON patch operation {index}: unknown op {op!r}")
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise invalid_patch(f"operation {index} ({op} {path}): {exc!r}", str(path)) from None
    return doc


def _tokens(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer {path!r} must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/")]


def _parent(doc: Any, tokens: list[str]) -> Any:
    node = doc
    for token in tokens[:-1]:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _get(doc: Any, path: str) -> Any:
    node = doc
    for token in _tokens(path):
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _tokens(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            position = int(last)
            if not 0 <= position <= len(parent):
                raise IndexError(f"index {position} out of range")
            parent.insert(position, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise TypeError(f"cannot add into a {type(parent).__name__}")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    tokens = _tokens(path)
    if not tokens:
        raise ValueError("cannot remove the whole document")
    parent = _parent(doc, tokens)
    last = tokens[-1]
    if isinstance(parent, list):
        return doc, parent.pop(int(last))
    return doc, parent.pop(last)


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
                result[field] = [v for v in result.get(field) or [] if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            result[key] = _strategic(current if isinstance(current, dict) else {}, value)
        elif isinstance(value, list) and key in MERGE_KEYS:
            result[key] = _merge_keyed_list(result.get(key) or [], value, MERGE_KEYS[key])
        elif isinstance(value, list) and key in MERGED_SCALAR_LISTS:
            merged = list(result.get(key) or [])
            result[key] = merged + [v for v in value if v not in merged]
        else:
            result[key] = copy.deepcopy(value)
    for field, order in orders.items():
        if isinstance(result.get(field), list) and field in MERGE_KEYS:
            result[field] = _reorder(result[field], order, MERGE_KEYS[field])
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_keyed_list(original: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    result = [copy.deepcopy(item) for item in original]
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise bad_request(
                f"strategic merge patch: every item of a list merged by "
                f"{merge_key!r} needs that key: {item!r}"
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
    rank = {entry.get(merge_key): i for i, entry in enumerate(order) if isinstance(entry, dict)}
    return sorted(items, key=lambda item: rank.get(item.get(merge_key), len(rank)))


def apply(patch_type: str, document: dict[str, Any], patch: Any) -> Any:
    if patch_type == MERGE:
        if not isinstance(patch, dict):
            raise bad_request("a merge patch must be a JSON object")
        return merge_patch(document, patch)
    if patch_type == JSON:
        return json_patch(document, patch)
    return strategic_merge_patch(document, patch)
