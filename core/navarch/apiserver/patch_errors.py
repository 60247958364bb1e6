"""What a JSON patch (RFC 6902) says when it is malformed or does not fit the object.

The jsonpatch library's messages are written for Python programmers (``7 (<class 'int'>)
is not equal to tested value 1 (<class 'int'>)``, ``member 'a' not found in {...}``), so
none of them reaches a user. A failed operation is diagnosed again here by walking its
pointers through the document, and described with its path and the values as JSON. The
wording follows evanphx/json-patch, the library Kubernetes applies JSON patches with
("testing value /spec/replicas failed: test failed", "remove operation does not apply:
doc is missing path: /metadata/labels/x"), with the reason added.
"""

from __future__ import annotations

from typing import Any

from navarch.api.errors import INVALID, show
from navarch.apiserver.errors import ApiError

OPERATIONS = ("add", "remove", "replace", "move", "copy", "test")
_NEEDS_VALUE = frozenset({"add", "replace", "test"})
_NEEDS_FROM = frozenset({"move", "copy"})
# Operations whose target must exist; the others write a new member or item, so only the
# target's parent must.
_TARGET_EXISTS = frozenset({"remove", "replace", "test"})


def malformed(operation: Any) -> str | None:
    """Why ``operation`` is not an RFC 6902 operation at all (a 400), or None."""
    if not isinstance(operation, dict):
        return f"an operation must be an object, not {show(operation)}"
    op = operation.get("op")
    if op not in OPERATIONS:
        choices = ", ".join(show(o) for o in OPERATIONS)
        if op is None:
            return f'an operation needs an "op" member: one of {choices}'
        return f'"op" is {show(op)}; it must be one of {choices}'
    for member in ("path", "from") if op in _NEEDS_FROM else ("path",):
        if not isinstance(operation.get(member), str):
            return f'the "{op}" operation needs a "{member}" string (a JSON pointer)'
    if op in _NEEDS_VALUE and "value" not in operation:
        return f'the "{op}" operation needs a "value" member'
    return None


def not_applicable(document: Any, operation: dict[str, Any]) -> ApiError:
    """The 422 for a well-formed ``operation`` that failed against ``document``."""
    message = _explain(document, operation)
    details: dict[str, Any] = {
        "causes": [{"reason": INVALID, "message": message, "field": field_path(operation["path"])}]
    }
    # With the object's kind and name kubectl prints its usual line:
    # The Deployment "web" is invalid: spec.replicas: testing value /spec/replicas failed: ...
    if isinstance(document, dict):
        api_version, kind = document.get("apiVersion"), document.get("kind")
        metadata = document.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if isinstance(kind, str) and isinstance(name, str):
            group = api_version.rpartition("/")[0] if isinstance(api_version, str) else ""
            details = {"name": name, "group": group, "kind": kind, **details}
    return ApiError(422, "Invalid", f"the patch could not be applied: {message}", details=details)


def field_path(pointer: str) -> str:
    """A JSON pointer in Kubernetes' field notation: ``/spec/containers/0/image`` is
    ``spec.containers[0].image``, ``/metadata/labels/app.kubernetes.io~1name`` is
    ``metadata.labels[app.kubernetes.io/name]``."""
    if not pointer.startswith("/"):
        return pointer
    out = ""
    for raw in pointer[1:].split("/"):
        token = _unescape(raw)
        if token == "-":  # "after the last item" names no item of its own
            continue
        if _is_index(token) or "." in token or "/" in token or not token:
            out += f"[{token}]"
        else:
            out += f".{token}" if out else token
    return out


def _explain(document: Any, operation: dict[str, Any]) -> str:
    op, path = operation["op"], operation["path"]
    if op in _NEEDS_FROM:
        source = operation["from"]
        problem = _missing(document, source)
        if problem:
            return f"{op} operation does not apply: doc is missing from path: {source}: {problem}"
        if op == "move" and path.startswith(source + "/"):
            return f"move operation does not apply: {path} is inside {source}, which it moves"
    target = path if op in _TARGET_EXISTS else _parent(path)
    problem = _missing(document, target)
    if problem:
        return f"{op} operation does not apply: doc is missing path: {path}: {problem}"
    if op == "test":
        return (
            f"testing value {path} failed: test failed: the value is "
            f"{show(_resolve(document, path))}, the patch expects {show(operation['value'])}"
        )
    if op not in _TARGET_EXISTS:
        problem = _not_insertable(_resolve(document, target), path)
        if problem:
            return f"{op} operation does not apply: {path}: {problem}"
    return f"{op} operation does not apply at {path}"


def _missing(document: Any, pointer: str) -> str | None:
    """Why ``pointer`` names nothing in ``document``, or None when it names a value."""
    if pointer == "":
        return None
    if not pointer.startswith("/"):
        return 'a JSON pointer is empty or starts with "/"'
    node, where = document, ""
    for raw in pointer[1:].split("/"):
        token = _unescape(raw)
        if isinstance(node, dict):
            if token not in node:
                return f"{_at(where)} has no member {show(token)}"
            node = node[token]
        elif isinstance(node, list):
            if not _is_index(token):
                return f"{show(token)} is not an index of the list at {_at(where)}"
            if int(token) >= len(node):
                return (
                    f"index {token} is out of range for the list at {_at(where)} ({_items(node)})"
                )
            node = node[int(token)]
        else:
            return f"{_at(where)} is {show(node)}, not an object or a list"
        where += f"/{raw}"
    return None


def _not_insertable(parent: Any, path: str) -> str | None:
    """Why a new value cannot go at ``path`` inside the existing ``parent``."""
    token = _unescape(path.rsplit("/", 1)[-1])
    if isinstance(parent, list):
        if token == "-":
            return None
        if not _is_index(token):
            return (
                f'{show(token)} is not an index of the list at {_at(_parent(path))} ("-" appends)'
            )
        if int(token) > len(parent):
            return (
                f"index {token} is out of range for the list at {_at(_parent(path))} "
                f"({_items(parent)})"
            )
        return None
    if not isinstance(parent, dict):
        return f"{_at(_parent(path))} is {show(parent)}, not an object or a list"
    return None


def _resolve(document: Any, pointer: str) -> Any:
    node = document
    for raw in pointer[1:].split("/") if pointer else ():
        token = _unescape(raw)
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _items(items: list[Any]) -> str:
    return "it has 1 item" if len(items) == 1 else f"it has {len(items)} items"


def _parent(pointer: str) -> str:
    return pointer.rsplit("/", 1)[0] if pointer.startswith("/") else pointer


def _at(pointer: str) -> str:
    return pointer or "the top level"


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _is_index(token: str) -> bool:
    """RFC 6901 array indexes: decimal digits without leading zeros."""
    return token.isascii() and token.isdigit() and (token == "0" or not token.startswith("0"))
