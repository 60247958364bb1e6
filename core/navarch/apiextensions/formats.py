"""The ``format`` values Kubernetes checks in custom objects, and how.

Kubernetes validates a fixed list of formats (apiextensions-apiserver's
``supportedFormats``) and ignores any other ``format`` (a schema may carry ``format:
quantity`` as documentation). Numbers: ``int32``, ``int64``, ``float`` and ``double``
bound the value's range. Strings: ``date-time`` (RFC 3339, e.g.
``2024-05-01T10:00:00Z``), ``date`` (``2024-05-01``), ``duration`` (Go's ``1h30m`` or
``3 days``), ``byte`` (base64), ``uuid``/``uuid3``/``uuid4``/``uuid5``, ``ipv4``,
``ipv6``, ``cidr``, ``mac``, ``hostname``, ``email``, ``uri``, ``hexcolor``,
``rgbcolor``, ``bsonobjectid``, ``ssn``, ``isbn``/``isbn10``/``isbn13`` and
``creditcard`` (their shape, without check digits), ``password`` (anything).

``format_problem("int32", 2**31)`` is ``'must be of type int32: "2147483648"'`` — the
words kube-openapi uses after ``<path> in body``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
_FLOAT32_MAX = 3.4028234663852886e38

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_GO_DURATION = re.compile(r"[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h))+|[-+]?0")
_WORD_DURATION = re.compile(
    r"(\d+)\s*(ns|us|µs|ms|s|m|h|d|w|nanoseconds?|microseconds?|milliseconds?|seconds?|"
    r"sec|minutes?|min|hours?|hr|days?|weeks?|wk)"
)
_UUID = {
    "uuid": re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I),
    "uuid3": re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I),
    "uuid4": re.compile(
        r"[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}", re.I
    ),
    "uuid5": re.compile(
        r"[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}", re.I
    ),
}
_MAC = re.compile(r"([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}|([0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}")
_HOSTNAME = re.compile(
    r"(?=.{1,253}$)([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)"
    r"(\.[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?)*\.?"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_HEXCOLOR = re.compile(r"#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})")
_RGBCOLOR = re.compile(r"rgb\(\s*\d{1,3}%?\s*,\s*\d{1,3}%?\s*,\s*\d{1,3}%?\s*\)")
_BSON = re.compile(r"[0-9a-fA-F]{24}")
_SSN = re.compile(r"\d{3}[- ]?\d{2}[- ]?\d{4}")
_ISBN10 = re.compile(r"(\d[- ]?){9}[\dXx]")
_ISBN13 = re.compile(r"(\d[- ]?){12}\d")
_CREDITCARD = re.compile(r"(\d[- ]?){12,18}\d")


def format_problem(format_: str, value: Any) -> str | None:
    """Why ``value`` does not have ``format_`` (None when it does, or when Kubernetes
    does not check that format)."""
    if not format_:
        return None
    if isinstance(value, str):
        checker = _STRING_FORMATS.get(format_)
        ok = checker is None or checker(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        ok = _number_in_range(format_, value)
    else:
        return None
    return None if ok else f'must be of type {format_}: "{value}"'


def _number_in_range(format_: str, value: int | float) -> bool:
    bounds = _INT_RANGES.get(format_)
    if bounds is not None:
        return bounds[0] <= value <= bounds[1]
    if format_ == "float":
        return abs(value) <= _FLOAT32_MAX
    return True


def _date_time(value: str) -> bool:
    if not _RFC3339.fullmatch(value):
        return False
    try:
        dt.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _duration(value: str) -> bool:
    return bool(_GO_DURATION.fullmatch(value) or _WORD_DURATION.fullmatch(value.strip()))


def _byte(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _ip(version: int) -> Callable[[str], bool]:
    def check(value: str) -> bool:
        try:
            return ipaddress.ip_address(value).version == version
        except ValueError:
            return False

    return check


def _cidr(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return "/" in value


def _uri(value: str) -> bool:
    parsed = urlparse(value)
    return bool(parsed.scheme) and " " not in value


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda value: bool(pattern.fullmatch(value))


_STRING_FORMATS: dict[str, Callable[[str], bool]] = {
    "date-time": _date_time,
    "datetime": _date_time,
    "date": _date,
    "duration": _duration,
    "byte": _byte,
    "ipv4": _ip(4),
    "ipv6": _ip(6),
    "cidr": _cidr,
    "uri": _uri,
    "mac": _matches(_MAC),
    "hostname": _matches(_HOSTNAME),
    "email": _matches(_EMAIL),
    "hexcolor": _matches(_HEXCOLOR),
    "rgbcolor": _matches(_RGBCOLOR),
    "bsonobjectid": _matches(_BSON),
    "ssn": _matches(_SSN),
    "isbn10": _matches(_ISBN10),
    "isbn13": _matches(_ISBN13),
    "isbn": lambda v: bool(_ISBN10.fullmatch(v) or _ISBN13.fullmatch(v)),
    "creditcard": _matches(_CREDITCARD),
    **{name: _matches(pattern) for name, pattern in _UUID.items()},
}
