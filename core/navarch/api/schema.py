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

    @model(kubernetes_only=("restartPolicyRules",))
    class Container(Model):
        name: str | None = wire()
        working_dir: str | None = wire()          # wire name derived: "workingDir"
        host_ip: str | None = wire("hostIP")      # explicit wire name
        liveness_probe: Probe | None = kept()     # typed and validated, not acted on
        tty: bool | None = kept(default=False)    # reported only when not the default

Fields Kubernetes has that Navarch does not act on come in two forms. ``kept()``
fields are typed like any other, so they are decoded strictly (an unknown key inside
a probe is rejected) and validated as Kubernetes validates them; ``kubernetes_only``
names are kept verbatim in ``unmodeled`` (rare volume sources, status details). Both
are listed in ``Decoded.ignored`` -- the API server's "ignored field" warnings --
unless the value is Kubernetes' default (kubectl sends ``dnsPolicy: ClusterFirst`` on
every ``kubectl run``: that sets nothing Navarch ignores) or empty, and never below
another ignored field (the parent's warning covers it).
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


_NO_DEFAULT: Any = object()


def wire(name: str | None = None) -> Any:
    """An optional model field; ``name`` overrides the derived camelCase wire name."""
    return attrs.field(default=None, kw_only=True, metadata={"wire": name})


def kept(name: str | None = None, *, default: Any = _NO_DEFAULT) -> Any:
    """A field Kubernetes defines and Navarch stores, validates and returns but does not
    act on; ``default`` is Kubernetes' default in wire form (no warning when it is set
    to that)."""
    return attrs.field(
        default=None, kw_only=True, metadata={"wire": name, "kept": True, "default": default}
    )


def is_default(raw: Any, default: Any) -> bool:
    """Whether the wire value ``raw`` of a kept field sets nothing: Kubernetes' default,
    or empty."""
    if raw is None or raw == [] or raw == {} or raw == "":
        return True
    return default is not _NO_DEFAULT and raw == default


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


ModelT = typing.TypeVar("ModelT", bound=Model)


def model(*, kubernetes_only: tuple[str, ...] = ()) -> Callable[[type[ModelT]], type[ModelT]]:
    """Class decorator: a frozen attrs model that keeps ``kubernetes_only`` fields.

    mypy learns that the class is attrs-made from ``tools/mypy_plugin.py``."""

    def wrap(cls: type[ModelT]) -> type[ModelT]:
        cls.KUBERNETES_ONLY = frozenset(kubernetes_only)
        return attrs.frozen(kw_only=True)(cls)

    return wrap


@attrs.define
class Decoded:
    """Accumulates the errors and ignored-field paths of one decode."""

    errors: list[FieldError] = attrs.field(factory=list)
    ignored: list[str] = attrs.field(factory=list)
    # >0 while decoding below a field already reported as ignored
    quiet: int = 0

    def ignore(self, path: str, raw: Any, default: Any = _NO_DEFAULT) -> None:
        if not self.quiet and not is_default(raw, default):
            self.ignored.append(path)

    def structure(self, tp: Any, value: Any, path: str) -> Any:
        result = _converter(tp)(value, path, self)
        return None if result is _INVALID else result


def unstructure(value: Any) -> Any:
    """The wire form (JSON-ready dicts, lists, strings and numbers) of a model value."""
    if isinstance(value, Model):
        return _writer(type(value))(value)
    if isinstance(value, tuple):
        return [unstructure(v) for v in value]
    if isinstance(value, dict):
        return {k: unstructure(v) for k, v in value.items()}
    if isinstance(value, Quantity):
        # Stored and returned in canonical form, as Kubernetes does ("0.5" -> "500m"):
        # equal quantities always serialise the same.
        return value.canonical()
    return value


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


@attrs.frozen
class _Field:
    attr: str
    wire: str
    type: Any
    kept: bool = False
    default: Any = _NO_DEFAULT


_PLANS: dict[type, tuple[_Field, ...]] = {}


def _plan(cls: type) -> tuple[_Field, ...]:
    plan = _PLANS.get(cls)
    if plan is None:
        hints = typing.get_type_hints(cls)
        plan = tuple(
            _Field(
                a.name,
                a.metadata.get("wire") or _camel(a.name),
                hints.get(a.name, a.type),
                bool(a.metadata.get("kept")),
                a.metadata.get("default", _NO_DEFAULT),
            )
            for a in attrs.fields(cls)
            if a.name != "unmodeled"
        )
        _PLANS[cls] = plan
    return plan


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# --- decoding: one converter function per type, built once ---------------------------
#
# A converter is ``convert(value, path, out) -> result`` returning _INVALID (after
# recording an error in ``out``) for a bad value. Building them once per type keeps
# the per-object work to dictionary look-ups and calls: decoding is on the API
# server's hot path.

Converter = Callable[[Any, str, "Decoded"], Any]
_CONVERTERS: dict[Any, Converter] = {}


def _converter(tp: Any) -> Converter:
    converter = _CONVERTERS.get(tp)
    if converter is None:
        converter = _build_converter(tp)
        _CONVERTERS[tp] = converter
    return converter


def _build_converter(tp: Any) -> Converter:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        options = [t for t in typing.get_args(tp) if t is not type(None)]
        if options == [int, str]:
            return _int_or_string
        return _converter(options[0])
    if isinstance(tp, type) and issubclass(tp, Model):
        return _model_converter(tp)
    if origin is tuple:
        return _tuple_converter(typing.get_args(tp)[0])
    if origin is dict:
        return _dict_converter(typing.get_args(tp)[1])
    simple = {Quantity: _quantity, str: _string, bool: _boolean, int: _integer, Any: _anything}.get(
        tp
    )
    if simple is None:
        raise TypeError(f"no wire conversion for type {tp!r}")  # a model bug
    return simple


def _int_or_string(value: Any, path: str, out: Decoded) -> Any:
    if value is None or isinstance(value, str) or (type(value) is int):
        return value
    return _bad(out, path, value, "an integer or a string")


def _string(value: Any, path: str, out: Decoded) -> Any:
    if value is None or type(value) is str:
        return value
    return _bad(out, path, value, "a string")


def _boolean(value: Any, path: str, out: Decoded) -> Any:
    if value is None or type(value) is bool:
        return value
    return _bad(out, path, value, "a boolean")


def _integer(value: Any, path: str, out: Decoded) -> Any:
    if value is None or type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)  # JSON has one number type; 3.0 is the integer 3
    return _bad(out, path, value, "an integer")


def _anything(value: Any, path: str, out: Decoded) -> Any:
    return value


def _quantity(value: Any, path: str, out: Decoded) -> Any:
    if value is None:
        return None
    try:
        return Quantity.parse(value)
    except QuantityError as exc:
        out.errors.append(errors.invalid(path, _preview(value), exc.detail))
        return _INVALID


def _tuple_converter(inner_type: Any) -> Converter:
    def convert(value: Any, path: str, out: Decoded) -> Any:
        if value is None:
            return None
        if type(value) is not list:
            return _bad(out, path, value, "a list")
        inner = _converter(inner_type)
        items = [inner(item, f"{path}[{i}]", out) for i, item in enumerate(value)]
        return tuple(item for item in items if item is not _INVALID)

    return convert


def _dict_converter(inner_type: Any) -> Converter:
    def convert(value: Any, path: str, out: Decoded) -> Any:
        if value is None:
            return None
        if type(value) is not dict:
            return _bad(out, path, value, "an object")
        inner = _converter(inner_type)
        converted = {str(k): inner(v, f"{path}[{k}]", out) for k, v in value.items()}
        return {k: v for k, v in converted.items() if v is not _INVALID}

    return convert


def _model_converter(cls: type[Model]) -> Converter:
    # wire name -> (attribute, converter, kept, default); built on first use: types recurse
    fields: dict[str, tuple[str, Converter, bool, Any]] | None = None

    def convert(value: Any, path: str, out: Decoded) -> Any:
        nonlocal fields
        if value is None:
            return None
        if type(value) is not dict:
            return _bad(out, path, value, "an object")
        if fields is None:
            fields = {f.wire: (f.attr, _converter(f.type), f.kept, f.default) for f in _plan(cls)}
        kwargs: dict[str, Any] = {}
        unmodeled: dict[str, Any] = {}
        prefix = f"{path}." if path else ""
        for key, item in value.items():
            field = fields.get(key)
            if field is not None:
                attr, inner, is_kept, default = field
                if is_kept:
                    if not out.quiet and not is_default(item, default):
                        out.ignored.append(prefix + key)
                    out.quiet += 1  # converters record errors, they never raise
                    converted = inner(item, prefix + key, out)
                    out.quiet -= 1
                else:
                    converted = inner(item, prefix + key, out)
                # A bad value becomes "absent" so the object can still be built and
                # validated: the caller then reports every problem at once.
                kwargs[attr] = None if converted is _INVALID else converted
            elif key in cls.KUBERNETES_ONLY:
                unmodeled[key] = item
                out.ignore(prefix + key, item)
            else:
                out.errors.append(errors.unknown(prefix + str(key)))
        return cls(**kwargs, unmodeled=unmodeled)

    return convert


# --- encoding: one writer per model class ------------------------------------------------

_WRITERS: dict[type, Callable[[Any], dict[str, Any]]] = {}


def _writer(cls: type) -> Callable[[Any], dict[str, Any]]:
    writer = _WRITERS.get(cls)
    if writer is None:
        plan = [(f.attr, f.wire) for f in _plan(cls)]

        def writer(value: Any) -> dict[str, Any]:
            out = dict(value.unmodeled)
            for attr, wire in plan:
                item = getattr(value, attr)
                if item is not None:
                    out[wire] = item if type(item) in _SCALARS else unstructure(item)
            return out

        _WRITERS[cls] = writer
    return writer


_SCALARS = {str, int, bool, float}


def _bad(out: Decoded, path: str, value: Any, expected: str) -> Any:
    out.errors.append(errors.type_invalid(path, _preview(value), expected))
    return _INVALID


def _preview(value: Any) -> Any:
    text = errors.show(value)
    return value if len(text) <= 60 else errors.Preview(text[:57] + "...")


def _name_of(data: Any) -> str | None:
    if isinstance(data, dict) and isinstance(data.get("metadata"), dict):
        name = data["metadata"].get("name")
        return name if isinstance(name, str) else None
    return None
