"""The OpenAPI v2 document in protocol buffers, the only form kubectl reads it in.

kubectl (client-go's ``OpenAPISchema``) asks ``/openapi/v2`` for
``application/com.github.proto-openapi.spec.v2@v1.0+protobuf`` and decodes the answer
as gnostic's ``openapi.v2.Document``; JSON there is a decoding error. This module
writes that message from the JSON form of the document with a small hand-written
encoder (the proto3 wire format is varints and length-prefixed fields), for the parts
of the message schema that Navarch's document uses. Field numbers are those of
gnostic's ``openapiv2/OpenAPIv2.proto``.

Vendor extensions (``x-kubernetes-…``) travel as ``NamedAny`` whose ``Any.yaml`` holds
the value; JSON is valid YAML, so the value is written as JSON.
"""

from __future__ import annotations

from typing import Any

import orjson

# What kubectl asks for, and what the answer is labelled: Go's mime parser refuses the
# "@" of the first, so kube-apiserver answers with the second, and so does Navarch.
MEDIA_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
RESPONSE_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def wants_protobuf(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for the protobuf form (either spelling)."""
    return any(
        part.split(";")[0].strip() in (MEDIA_TYPE, RESPONSE_TYPE)
        for part in (accept or "").split(",")
    )


# --- the wire format ------------------------------------------------------------------------


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _string(number: int, value: str) -> bytes:
    return _bytes_field(number, value.encode()) if value else b""


def _bool(number: int, value: bool) -> bytes:
    return _varint(number << 3) + b"\x01" if value else b""


def _message(number: int, payload: bytes) -> bytes:
    return _bytes_field(number, payload)


# --- gnostic messages ------------------------------------------------------------------------


def _named_any(number: int, name: str, value: Any) -> bytes:
    any_ = _string(2, orjson.dumps(value).decode())  # Any { yaml = 2 }
    return _message(number, _string(1, name) + _message(2, any_))


def _extensions(number: int, obj: dict[str, Any]) -> bytes:
    return b"".join(_named_any(number, k, v) for k, v in obj.items() if k.startswith("x-"))


def schema(obj: dict[str, Any]) -> bytes:
    """``Schema``: $ref 1, format 2, description 4, required 19, additionalProperties 21,
    type 22, items 23, properties 25, vendor extensions 31."""
    out = _string(1, obj.get("$ref", "")) + _string(2, obj.get("format", ""))
    out += _string(4, obj.get("description", ""))
    out += b"".join(_string(19, name) for name in obj.get("required", ()))
    additional = obj.get("additionalProperties")
    if isinstance(additional, dict):  # AdditionalPropertiesItem { schema = 1 }
        out += _message(21, _message(1, schema(additional)))
    if obj.get("type"):  # TypeItem { repeated value = 1 }
        out += _message(22, _string(1, obj["type"]))
    if isinstance(obj.get("items"), dict):  # ItemsItem { repeated schema = 1 }
        out += _message(23, _message(1, schema(obj["items"])))
    if obj.get("properties"):  # Properties { repeated NamedSchema = 1 }
        out += _message(25, _named_schemas(obj["properties"]))
    return out + _extensions(31, obj)


def _named_schemas(schemas: dict[str, Any]) -> bytes:
    return b"".join(
        _message(1, _string(1, name) + _message(2, schema(value)))
        for name, value in schemas.items()
    )


def _parameter(param: dict[str, Any]) -> bytes:
    """``ParametersItem { parameter = 1 }``: a body parameter, or a query or path
    parameter (``NonBodyParameter`` sub-schemas 3 and 4)."""
    if param.get("in") == "body":
        body = _string(2, param["name"]) + _string(3, "body") + _bool(4, True)
        body += _message(5, schema(param.get("schema", {})))
        return _message(1, _message(1, body))
    if param.get("in") == "path":  # PathParameterSubSchema: required 1, in 2, name 4, type 5
        sub = _bool(1, True) + _string(2, "path") + _string(4, param["name"])
        sub += _string(5, param.get("type", "string"))
        return _message(1, _message(2, _message(4, sub)))
    # QueryParameterSubSchema: in 2, name 4, type 6, unique_items 20
    sub = _string(2, "query") + _string(4, param["name"]) + _string(6, param.get("type", ""))
    sub += _bool(20, bool(param.get("uniqueItems")))
    return _message(1, _message(2, _message(3, sub)))


def _operation(op: dict[str, Any]) -> bytes:
    """``Operation``: operation_id 5, produces 6, consumes 7, parameters 8,
    responses 9, vendor extensions 13."""
    out = _string(5, op.get("operationId", ""))
    out += b"".join(_string(6, m) for m in op.get("produces", ()))
    out += b"".join(_string(7, m) for m in op.get("consumes", ()))
    out += b"".join(_message(8, _parameter(p)) for p in op.get("parameters", ()))
    codes = b""
    for code, response in op.get("responses", {}).items():
        body = _string(1, response.get("description", ""))
        if "schema" in response:  # SchemaItem { schema = 1 }
            body += _message(2, _message(1, schema(response["schema"])))
        # NamedResponseValue { name 1, value 2: ResponseValue { response = 1 } }
        codes += _message(1, _string(1, code) + _message(2, _message(1, body)))
    out += _message(9, codes)
    return out + _extensions(13, op)


_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "patch": 8}


def _path_item(item: dict[str, Any]) -> bytes:
    out = b"".join(
        _message(number, _operation(item[method]))
        for method, number in _METHODS.items()
        if method in item
    )
    out += b"".join(_message(9, _parameter(p)) for p in item.get("parameters", ()))
    return out


def document(doc: dict[str, Any]) -> bytes:
    """``Document``: swagger 1, info 2 (title 1, version 2), paths 8, definitions 9."""
    info = doc.get("info", {})
    out = _string(1, doc.get("swagger", "2.0"))
    out += _message(2, _string(1, info.get("title", "")) + _string(2, info.get("version", "")))
    paths = b"".join(  # Paths { repeated NamedPathItem path = 2 }
        _message(2, _string(1, path) + _message(2, _path_item(item)))
        for path, item in doc.get("paths", {}).items()
    )
    out += _message(8, paths)
    out += _message(9, _named_schemas(doc.get("definitions", {})))
    return out
