"""Write ``core/navarch/apiserver/openapi_descriptions.json``: Kubernetes' own
description of every definition and field the OpenAPI documents describe, so that
``kubectl explain`` reads what Kubernetes says of a field.

Source: the official ``kubernetes`` Python client (a development dependency here),
whose model classes carry the descriptions of Kubernetes' OpenAPI definitions; both
the client and Kubernetes' API definitions are Apache-2.0, as Navarch is. The server
reads the committed file and never imports the client.

Run it after the object model gains a kind or a field (``tests/api/test_openapi.py``
fails while the file is stale)::

    uv run --no-sync python tools/openapi_descriptions.py
"""

from __future__ import annotations

import sys
import typing
from pathlib import Path
from typing import Any

import kubernetes
import orjson
from kubernetes.client import models

OUTPUT = Path(__file__).parent.parent / "core/navarch/apiserver/openapi_descriptions.json"


def client_class(definition: str) -> type | None:
    """The client's model class of a definition name (``io.k8s.api.core.v1.Pod`` ->
    ``V1Pod``; names defined in two groups carry the group, ``CoreV1Event``)."""
    package, _, name = definition.rpartition(".")
    version = package.rsplit(".", 1)[-1].capitalize()
    group = package.split(".")[-2].capitalize() if package.startswith("io.k8s.api.") else ""
    for candidate in (f"{version}{name}", f"{group}{version}{name}"):
        found = getattr(models, candidate, None)
        if isinstance(found, type):
            return found
    return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _class_description(cls: type) -> str:
    doc = cls.__doc__ or ""
    # The generated docstring: the definition's description, then "Attributes: ...".
    return _one_line(doc.split("Attributes:")[0]) if "Do not edit" not in doc else ""


def _field_descriptions(cls: type) -> dict[str, str]:
    """Each field's description by wire name. The client's models drop the description
    of a field that refers to another definition: such a field gets its type's (what
    ``kubectl explain`` prints for it anyway), which also names the Kubernetes type
    where Navarch models one shape for several (``EnvSourceRef`` for a
    ``ConfigMapEnvSource`` and a ``SecretEnvSource``)."""
    fields: dict[str, Any] = getattr(cls, "model_fields", {})
    out = {}
    for name, info in fields.items():
        wire = info.serialization_alias or info.alias or name
        text = info.description or _type_description(info.annotation)
        if text:
            out[wire] = _one_line(text)
    return out


def _type_description(annotation: Any) -> str:
    """The description of the model class a field holds (``Optional[V1PodSpec]``)."""
    candidates = [annotation, *typing.get_args(annotation)]
    for candidate in candidates:
        if isinstance(candidate, type) and hasattr(candidate, "model_fields"):
            return _class_description(candidate)
    return ""


def extract(schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The descriptions of the definitions in ``schemas`` (OpenAPI v3 components) that
    Kubernetes has, limited to the fields each definition has here."""
    definitions: dict[str, Any] = {}
    for definition, schema in sorted(schemas.items()):
        cls = client_class(definition)
        if cls is None:
            continue  # a shape only Navarch names (EnvSourceRef, ...)
        fields = _field_descriptions(cls)
        entry: dict[str, Any] = {}
        description = _class_description(cls)
        if description:
            entry["description"] = description
        kept = {w: fields[w] for w in sorted(schema.get("properties", {})) if w in fields}
        if kept:
            entry["fields"] = kept
        if entry:
            definitions[definition] = entry
    return {
        "about": (
            "Kubernetes' descriptions of its API definitions and fields, written by "
            "tools/openapi_descriptions.py from the official kubernetes Python client "
            f"{kubernetes.__version__} (its model classes); Kubernetes and the client are "
            "licensed under the Apache License 2.0. Do not edit by hand."
        ),
        "definitions": definitions,
    }


def render(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def main() -> int:
    from navarch.apiserver import openapi

    OUTPUT.write_bytes(render(extract(openapi.model_schemas())))
    sys.stdout.write(f"wrote {OUTPUT}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
