"""A minimal OpenAPI v3 description of the served paths.

kubectl reads it to learn that the server validates fields itself (the
``fieldValidation`` query parameter on PATCH), and then skips downloading schemas
for client-side validation. Only operations and that parameter are described; the
object schemas are Kubernetes' own and are not repeated here.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from navarch.apiserver.resources import RESOURCES, Resource

_QUERY = [
    {"name": n, "in": "query", "schema": {"type": "string"}}
    for n in ("fieldValidation", "dryRun", "fieldManager", "pretty")
]


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _item_path(res: Resource) -> str:
    base = f"/{_gv_path(res.group, res.version)}"
    if res.namespaced:
        return f"{base}/namespaces/{{namespace}}/{res.plural}/{{name}}"
    return f"{base}/{res.plural}/{{name}}"


def document(group: str, version: str) -> dict[str, Any] | None:
    served = [r for r in RESOURCES if (r.group, r.version) == (group, version)]
    if not served:
        return None
    paths: dict[str, Any] = {}
    for res in served:
        gvk = [{"group": res.group, "version": res.version, "kind": res.kind}]
        operation = {
            "parameters": _QUERY,
            "x-kubernetes-group-version-kind": gvk[0],
            "responses": {"200": {"description": "OK"}},
        }
        item = _item_path(res)
        paths[item] = {"get": operation, "put": operation, "patch": operation, "delete": operation}
        paths[item.rsplit("/", 1)[0]] = {"get": operation, "post": operation}
    return {
        "openapi": "3.0.0",
        "info": {"title": "Navarch", "version": version},
        "paths": paths,
        "components": {"schemas": {}},
    }


def index() -> dict[str, Any]:
    paths = {}
    for group, version in sorted({(r.group, r.version) for r in RESOURCES}):
        digest = hashlib.sha256(orjson.dumps(document(group, version))).hexdigest()[:16].upper()
        gv = _gv_path(group, version)
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": paths}
