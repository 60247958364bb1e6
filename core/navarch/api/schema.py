"""Conversion between the object model (frozen attrs classes) and the wire format.

Why not cattrs: decoding a Kubernetes object needs three things at once that a
general converter does not give together — (1) every field error of the object in
one pass, each with its Kubernetes path (``spec.containers[0].image``), to build a
422 ``Status``; (2) a three-way split of incoming keys into fields Navarch models,
fields Kubernetes has that Navarch does not act on (kept verbatim in ``unmodeled``
and reported as ignored), and fields Kubernetes does not have (rejected); (3)
``None``-means-absent so a manifest serialises back to exactly the JSON it came
from. The whole mechanism is the ~150 lines below, driven by the attrs fields and
their type hints, with one compiled plan per class.

A model class declares::

    @model(kubernetes_only=("livenessProbe", "volumeMounts"))
    class Container(Model):
        name: str | None = wire()
        working_dir: str | None = wire()          # wire name derived: "workingDir"
        host_ip: str | None = wire("hostIP")      # explicit wire name
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs

from navarch.api import errors
from navarch.api.errors import FieldError
from navarch.api.quantity import Quantity, QuantityError

# The int-or-string of Kubernetes (maxSurge: 1 or "25%").
IntOrString = int | str

_INVALID = object()  # a value that failed conversion (the error is already recorded)


def wire(name: str | None = None) -> Any:
    """An optional model field; ``name`` overrides the derived camelCase wire name."""
    return attrs.field(default=None, kw_only=True, metadata={"wire": name})


@attrs.frozen(kw_only=True)
class Model:
    """Base of every object-model class.

    ``unmodeled`` holds the fields Kubernetes defines at this level that Navarch does
    not act on, verbatim, so they are stored and returned unchanged.
    """

    KUBERNETES_ONLY: ClassVar[frozenset[str]] = frozenset()

    unmodeled: Mapping[str, Any] = attrs.field(factory=dict, kw_only=True, repr=False)

    @classmethod
    def from_dict(cls, data: Any, path: str = "") -> typing.Self:
        """Decode ``data``; raises :class:`errors.InvalidObject` with every problem."""
        decoded = Decoded()
        obj = decoded.structure(cls, data, path)
        if decoded.errors:
            raise errors.InvalidObject(cls.__name__, _name_of(data), decoded.errors)
        return obj

    def to_dict(self) -> dict[str, Any]:
        return unstructure(self)


def model(*, kubernetes_only: tuple[str, ...] = ()) -> Callable[[type], type]:
    """Class decorator: a frozen attrs model that keeps ``kubernetes_only`` fields."""

    def wrap(cls: type) -> type:
        cls.KUBERNETES_ONLY = frozenset(kubernetes_only)
        return attrs.frozen(kw_only=True)(cls)

    return wrap


@attrs.define
class Decoded:
    """Accumulates the errors and ignored-field paths of one decode."""

    errors: list[FieldError] = attrs.field(factory=list)
    ignored: list[str] = attrs.field(factory=list)

    def structure(self, tp: Any, value: Any, path: str) -> Any:
        return _structure(tp, value, path, self)


def unstructure(value: Any) -> Any:
    """The wire form (JSON-ready dicts, lists, strings and numbers) of a model value."""
    if isinstance(value, Model):
        out = dict(value.unmodeled)
        for field in _plan(type(value)):
            item = getattr(value, field.attr)
            if item is not None:
                out[field.wire] = unstructure(item)
        return out
    if isinstance(value, tuple):
        return [unstructure(v) for v in value]
    if isinstance(value, dict):
        return {k: unstructure(v) for k, v in value.items()}
    if isinstance(value, Quantity):
        return value.text
    return value


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


@attrs.frozen
class _Field:
    attr: str
    wire: str
    type: Any


_PLANS: dict[type, tuple[_Field, ...]] = {}
_BY_WIRE: dict[type, dict[str, _Field]] = {}


def _plan(cls: type) -> tuple[_Field, ...]:
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        plan = tuple(
            _Field(a.name, a.metadata.get("wire") or _camel(a.name), hints.get(a.name, a.type))
            for a in attrs.fields(cls)
            if a.name != "unmodeled"
        )
        _PLANS[cls] = plan
        _BY_WIRE[cls] = {f.wire: f for f in plan}
    return plan


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _structure(tp: Any, value: Any, path: str, out: Decoded) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = [t for t in typing.get_args(tp) if t is not type(None)]
        if options == [int, str]:
            if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
                return value
            return _bad(out, path, value, "an integer or a string")
        (inner,) = options
        return _structure(inner, value, path, out)
    if isinstance(tp, type) and issubclass(tp, Model):
        return _structure_model(tp, value, path, out)
    if origin is tuple:
        if not isinstance(value, list):
            return _bad(out, path, value, "a list")
        inner = typing.get_args(tp)[0]
        items = (_structure(inner, v, f"{path}[{i}]", out) for i, v in enumerate(value))
        return tuple(item for item in items if item is not _INVALID)
    if origin is dict:
        if not isinstance(value, dict):
            return _bad(out, path, value, "an object")
        inner = typing.get_args(tp)[1]
        converted = {str(k): _structure(inner, v, f"{path}[{k}]", out) for k, v in value.items()}
        return {k: v for k, v in converted.items() if v is not _INVALID}
    if tp is Quantity:
        try:
            return Quantity.parse(value)
        except QuantityError as exc:
            out.errors.append(errors.invalid(path, _preview(value), exc.detail))
            return _INVALID
    if tp is str:
        return value if isinstance(value, str) else _bad(out, path, value, "a string")
    if tp is bool:
        return value if isinstance(value, bool) else _bad(out, path, value, "a boolean")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)  # JSON has one number type; 3.0 is the integer 3
        return _bad(out, path, value, "an integer")
    if tp is Any:
        return value
    raise TypeError(f"no wire conversion for type {tp!r} at {path}")  # a model bug


def _structure_model(cls: type[Model], value: Any, path: str, out: Decoded) -> Any:
    if not isinstance(value, dict):
        return _bad(out, path, value, "an object")
    _plan(cls)
    by_wire = _BY_WIRE[cls]
    kwargs: dict[str, Any] = {}
    unmodeled: dict[str, Any] = {}
    for key, item in value.items():
        field = by_wire.get(key)
        if field is not None:
            converted = _structure(field.type, item, join(path, key), out)
            # A bad value becomes "absent" so the object can still be built and
            # validated: the caller then reports every problem at once.
            kwargs[field.attr] = None if converted is _INVALID else converted
        elif key in cls.KUBERNETES_ONLY:
            unmodeled[key] = item
            out.ignored.append(join(path, key))
        else:
            out.errors.append(errors.unknown(join(path, str(key))))
    return cls(**kwargs, unmodeled=unmodeled)


def _bad(out: Decoded, path: str, value: Any, expected: str) -> Any:
    out.errors.append(errors.type_invalid(path, _preview(value), expected))
    return _INVALID


def _preview(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= 60 else text[:57] + "..."


def _name_of(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
        name = data["metadata"].get("name")
        return name if isinstance(name, str) else None
    return None
