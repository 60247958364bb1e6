"""Validation of ConfigMaps and Secrets (Kubernetes' ``ValidateConfigMap``,
``ValidateSecret`` and their ``...Update``): key names, the 1 MiB limit, the keys each
secret type requires, and ``immutable``.

The values checked are the stored ones: a Secret's ``stringData`` has already been
merged into ``data`` (:mod:`navarch.resources.core.configuration`), so its keys and
sizes are checked as ``data``'s, as in Kubernetes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from navarch.api import errors, wirebytes
from navarch.api.core_v1_config import (
    BASIC_AUTH_PASSWORD_KEY,
    BASIC_AUTH_USERNAME_KEY,
    DOCKER_CONFIG_JSON_KEY,
    DOCKERCFG_KEY,
    MAX_CONFIG_BYTES,
    SECRET_TYPE_BASIC_AUTH,
    SECRET_TYPE_DOCKER_CONFIG_JSON,
    SECRET_TYPE_DOCKERCFG,
    SECRET_TYPE_SERVICE_ACCOUNT_TOKEN,
    SECRET_TYPE_SSH_AUTH,
    SECRET_TYPE_TLS,
    SERVICE_ACCOUNT_NAME_KEY,
    SSH_AUTH_PRIVATE_KEY,
    TLS_CERT_KEY,
    TLS_PRIVATE_KEY_KEY,
    ConfigMap,
    Secret,
)
from navarch.api.errors import FieldError
from navarch.api.field_checks import Errors

_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_MAX_KEY_LENGTH = 253  # a DNS subdomain's
_KEY_FORMAT = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
    "(e.g. 'key.name', or 'KEY_NAME', or 'key-name', "
    "regex used for validation is '[-._a-zA-Z0-9]+')"
)
# What an update of an immutable object is told (Kubernetes' words).
IMMUTABLE_SET = "field is immutable when `immutable` is set"
# The value shown in place of a secret's contents in an error.
REDACTED = "<secret contents redacted>"


def config_key_problems(key: str) -> list[str]:
    """Kubernetes' ``IsConfigMapKey``: what is wrong with ``key`` as a ConfigMap or
    Secret key (it becomes a file name in a volume, so never '.' or '..')."""
    problems = []
    if len(key) > _MAX_KEY_LENGTH:
        problems.append(f"must be no more than {_MAX_KEY_LENGTH} characters")
    if not _CONFIG_KEY.fullmatch(key):
        problems.append(_KEY_FORMAT)
    if key == ".":
        problems.append("must not be '.'")
    elif key == "..":
        problems.append("must not be '..'")
    elif key.startswith(".."):
        problems.append("must not start with '..'")
    return problems


def _key_errors(values: Mapping[str, str], field: str) -> Errors:
    return [
        errors.invalid(f"{field}[{key}]", key, problem)
        for key in values
        for problem in config_key_problems(key)
    ]


def _too_long(path: str) -> FieldError:
    message = f"Too long: must have at most {MAX_CONFIG_BYTES} bytes"
    return FieldError(path, errors.TOO_LONG, message)


def _decoded(values: Mapping[str, str], field: str, errs: Errors) -> dict[str, bytes]:
    """The bytes of base64 values; a value that does not decode is an error here (the
    API server refuses it earlier, as Kubernetes' decoding does)."""
    out = {}
    for key, value in values.items():
        try:
            out[key] = wirebytes.decode(value)
        except wirebytes.IllegalBase64 as exc:
            errs.append(errors.invalid(f"{field}[{key}]", REDACTED, str(exc)))
    return out


def validate_configmap(cm: ConfigMap) -> Errors:
    data, binary = dict(cm.data or {}), dict(cm.binary_data or {})
    errs = _key_errors(data, "data")
    errs += [
        errors.invalid(f"data[{key}]", key, "duplicate of key present in binaryData")
        for key in data
        if key in binary
    ]
    errs += _key_errors(binary, "binaryData")
    errs += [
        errors.invalid(f"binaryData[{key}]", key, "duplicate of key present in data")
        for key in binary
        if key in data
    ]
    size = sum(len(value.encode()) for value in data.values())
    size += sum(len(value) for value in _decoded(binary, "binaryData", errs).values())
    if size > MAX_CONFIG_BYTES:
        # The whole object: Kubernetes' field.NewPath(""), which prints as "[]".
        errs.append(_too_long("[]"))
    return errs


def validate_configmap_update(new: ConfigMap, old: ConfigMap) -> Errors:
    errs: Errors = []
    if old.immutable:
        if not new.immutable:
            errs.append(errors.forbidden("immutable", IMMUTABLE_SET))
        if (new.data or {}) != (old.data or {}):
            errs.append(errors.forbidden("data", IMMUTABLE_SET))
        if (new.binary_data or {}) != (old.binary_data or {}):
            errs.append(errors.forbidden("binaryData", IMMUTABLE_SET))
    return errs


def validate_secret(secret: Secret) -> Errors:
    values = dict(secret.data or {})
    errs = _key_errors(values, "data")
    data = _decoded(values, "data", errs)
    if sum(len(value) for value in data.values()) > MAX_CONFIG_BYTES:
        errs.append(_too_long("data"))
    return errs + _type_errors(secret, data)


def _type_errors(secret: Secret, data: Mapping[str, bytes]) -> Errors:
    """The keys Kubernetes requires of each secret type; other types (Opaque, a type of
    the user's own) may hold anything."""
    kind = secret.type
    if kind == SECRET_TYPE_SERVICE_ACCOUNT_TOKEN:
        annotations = (secret.metadata.annotations if secret.metadata else None) or {}
        if not annotations.get(SERVICE_ACCOUNT_NAME_KEY):
            return [errors.required(f"metadata.annotations[{SERVICE_ACCOUNT_NAME_KEY}]")]
        return []
    if kind in (SECRET_TYPE_DOCKERCFG, SECRET_TYPE_DOCKER_CONFIG_JSON):
        key = DOCKERCFG_KEY if kind == SECRET_TYPE_DOCKERCFG else DOCKER_CONFIG_JSON_KEY
        if key not in data:
            return [errors.required(f"data[{key}]")]
        problem = json_object_problem(data[key])
        return [errors.invalid(f"data[{key}]", REDACTED, problem)] if problem else []
    if kind == SECRET_TYPE_BASIC_AUTH:
        # either may be empty, but one of the two must be there
        if BASIC_AUTH_USERNAME_KEY not in data and BASIC_AUTH_PASSWORD_KEY not in data:
            return [
                errors.required(f"data[{BASIC_AUTH_USERNAME_KEY}]"),
                errors.required(f"data[{BASIC_AUTH_PASSWORD_KEY}]"),
            ]
        return []
    if kind == SECRET_TYPE_SSH_AUTH:
        if not data.get(SSH_AUTH_PRIVATE_KEY):
            return [errors.required(f"data[{SSH_AUTH_PRIVATE_KEY}]")]
        return []
    if kind == SECRET_TYPE_TLS:
        return [
            errors.required(f"data[{key}]")
            for key in (TLS_CERT_KEY, TLS_PRIVATE_KEY_KEY)
            if key not in data
        ]
    return []


def json_object_problem(raw: bytes) -> str:
    """Why ``raw`` is not a JSON object, in the words of Go's ``json.Unmarshal`` into a
    map (what Kubernetes reports for a docker config); empty when it is one (or null,
    which Go accepts)."""
    try:
        value = json.loads(raw)
    except UnicodeDecodeError:
        return "invalid character in JSON input: not UTF-8"
    except json.JSONDecodeError as exc:
        text = raw.decode(errors="replace")
        if exc.pos >= len(text.rstrip()):
            return "unexpected end of JSON input"
        return f"invalid character {text[exc.pos]!r} at byte {exc.pos}: {exc.msg}"
    if value is None or isinstance(value, dict):
        return ""
    go_kind = {list: "array", str: "string", bool: "bool"}.get(type(value), "number")
    return f"json: cannot unmarshal {go_kind} into Go value of type map[string]interface {{}}"


def validate_secret_update(new: Secret, old: Secret) -> Errors:
    errs: Errors = []
    if new.type != old.type:
        errs.append(errors.invalid("type", new.type, "field is immutable"))
    if old.immutable:
        if not new.immutable:
            errs.append(errors.forbidden("immutable", IMMUTABLE_SET))
        if (new.data or {}) != (old.data or {}):
            errs.append(errors.forbidden("data", IMMUTABLE_SET))
    return errs
