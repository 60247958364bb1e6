"""Secrets out of logs, hook traces and Events: bearer tokens and ``Authorization``
headers, passwords, private keys, the data of Secret objects.

Two tools, used together:

* :func:`redact` copies a structure (mappings, sequences, attrs objects) masking the
  values of sensitive keys — ``Authorization: Bearer abc`` becomes ``Bearer <masked>``
  (client-go's request logging keeps the scheme the same way), ``password: hunter2``
  becomes ``<masked>``, a Secret's ``data`` and ``stringData`` keep their keys and lose
  their values (in a SecretList's items too, which name no kind) — and
  running :func:`redact_text` over every string left;
* :func:`redact_text` masks what a secret looks like inside free text (an exception
  message, a repr): ``Bearer``/``Basic`` credentials, ``password=…``/``token: …``
  pairs, a URL's ``user:password@``, JSON Web Tokens, PEM private keys.

A plain random token with nothing around it cannot be recognised in free text: that
is why the structured form (``headers`` as a mapping) goes through :func:`redact`
before it is turned into text. :func:`redact_log_record` is the loguru patcher every
entry point installs (``navarch.logs.configure_logging``), the last line of defence
for whatever a log line carries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Set
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from loguru import Record

MASK = "<masked>"
# Deeper than any object we log (a Pod is ~8 levels); below it, text is masked instead.
MAX_DEPTH = 16

# Keys (compared lower-case, "_" as "-") whose values are secrets wherever they appear:
# HTTP headers, kubeconfig fields, plugin options, configuration.
_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-auth-token",
        "x-api-key",
        "token",
        "password",
        "passwd",
        "secret",
        "client-key",
        "client-key-data",
        "private-key",
        "privatekey",
        "credentials",
    }
)
_SECRET_SUFFIXES = ("-token", "-password", "-passwd", "-secret", "-key-data", "-private-key")
# Kinds whose data is secret as a whole: every value masked, the keys kept.
_SECRET_KINDS = frozenset({"Secret"})
# Their lists: the items of a SecretList carry no kind of their own on the wire.
_SECRET_LIST_KINDS = frozenset(f"{kind}List" for kind in _SECRET_KINDS)
_SECRET_DATA_FIELDS = ("data", "stringData", "string_data")

_SCHEME_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{4,}")
_PAIR = re.compile(
    r"""(?ix)
    (\b(?:[a-z0-9]+[_-])*(?:password|passwd|token|secret|authorization|client-key-data)
     ["']?\s*[:=]\s*["']?)      # key, separator, an opening quote
    (?!<masked>|bearer\s|basic\s)  # not a masked value, nor a scheme (masked after it)
    ([^\s"',;&}]+)             # the value, up to a delimiter
    """
)
_URL_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)([^@\s/]+)(@)")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+")
_PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)
# Cheap test before the expressions: most log lines carry none of these.
_TRIGGERS = ("bearer", "basic", "token", "passw", "secret", "authorization", "key", "://", "eyj")


def is_secret_key(key: object) -> bool:
    """Whether values under ``key`` (a header, a field, a setting) are secrets."""
    if not isinstance(key, str):
        return False
    name = key.rsplit(".", 1)[-1].lower().replace("_", "-")
    return name in _SECRET_KEYS or name.endswith(_SECRET_SUFFIXES)


def mask_value(key: str, value: object) -> str:
    """The masked form of a secret ``value`` under ``key``: an ``Authorization``
    header keeps its scheme (``Bearer <masked>``), anything else is ``<masked>``."""
    if isinstance(value, str) and key.lower().endswith("authorization"):
        scheme, _, credential = value.strip().partition(" ")
        if credential:
            return f"{scheme} {MASK}"
    return MASK


def redact_text(text: str) -> str:
    """``text`` with every secret it visibly holds masked (see the module's list)."""
    lowered = text.lower()
    if not any(trigger in lowered for trigger in _TRIGGERS):
        return text
    text = _PEM_PRIVATE_KEY.sub(lambda m: f"-----BEGIN {m[1]}PRIVATE KEY-----{MASK}{m[2]}", text)
    text = _JWT.sub(MASK, text)
    text = _SCHEME_CREDENTIAL.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    text = _URL_USERINFO.sub(lambda m: f"{m[1]}{MASK}{m[3]}", text)
    return _PAIR.sub(lambda m: f"{m[1]}{MASK}", text)


def redact(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` fit to log: mappings become dicts with secret keys masked
    (and a Secret's data values masked), sequences lists, attrs objects dicts of their
    fields (named by their class under ``"_type"``), strings :func:`redact_text`-ed;
    numbers, booleans and None as they are; anything else its ``repr``, redacted."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray):
        return redact_text(repr(value))
    if _depth >= MAX_DEPTH:
        return redact_text(repr(value))
    if isinstance(value, Mapping):
        if _kind_of(value) in _SECRET_LIST_KINDS:
            return _redact_secret_list(value, _depth)
        return _redact_mapping(value.items(), _is_secret_object(value), _depth)
    if attrs.has(type(value)):
        names = (field.name for field in attrs.fields(type(value)))
        fields = ((name, getattr(value, name, None)) for name in names)
        out = _redact_mapping(fields, _is_secret_object(value), _depth)
        return {"_type": type(value).__name__, **out}
    if isinstance(value, list | tuple | Set):
        return [redact(item, _depth + 1) for item in value]
    return redact_text(repr(value))


def _redact_mapping(items: Any, secret_object: bool, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in items:
        name = str(key)
        if is_secret_key(name):
            out[name] = mask_value(name, item) if item not in (None, "") else item
        elif secret_object and name in _SECRET_DATA_FIELDS and isinstance(item, Mapping):
            out[name] = {str(k): MASK for k in item}
        else:
            out[name] = redact(item, depth + 1)
    return out


def _redact_secret_list(value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    out = _redact_mapping(((k, v) for k, v in value.items() if k != "items"), False, depth)
    items = value.get("items")
    if isinstance(items, list | tuple):
        out["items"] = [
            _redact_mapping(item.items(), True, depth + 2)
            if isinstance(item, Mapping)
            else redact(item, depth + 2)
            for item in items
        ]
    elif "items" in value:
        out["items"] = redact(items, depth + 1)
    return out


def _kind_of(value: Any) -> Any:
    return value.get("kind") if isinstance(value, Mapping) else getattr(value, "KIND", None)


def _is_secret_object(value: Any) -> bool:
    return _kind_of(value) in _SECRET_KINDS


def redact_log_record(record: Record) -> None:
    """A loguru patcher: the record's message and bound values redacted in place."""
    record["message"] = redact_text(record["message"])
    extra = record["extra"]
    for key, value in extra.items():
        if is_secret_key(key):
            extra[key] = mask_value(key, value)
        elif isinstance(value, str):
            extra[key] = redact_text(value)
        elif isinstance(value, Mapping | list | tuple):
            redacted = redact(value)
            if redacted != (list(value) if isinstance(value, tuple) else value):
                extra[key] = redacted
