"""Plugin options: an attrs class per plugin part, structured from the configuration by
cattrs, type-checked strictly, and described for ``navarch config reference``.

A plugin declares its options as an ``@attrs.frozen(kw_only=True)`` class whose fields
have defaults, a type and a ``help`` text in the field metadata, with attrs validators
for invariants (ranges, fields that go together), and registers it beside its factory:
``register("lmdb", open_store, options=LmdbOptions)``. The core then turns the
``store.options`` mapping into that class before the factory is called.

The converter is strict on purpose: cattrs would turn ``"5"`` into ``5`` and ``"no"``
into ``True``; options come from a YAML file, where a wrong type is a user's mistake
worth naming.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import attrs
import cattrs

from navarch.config import ConfigError

T = TypeVar("T", bound=attrs.AttrsInstance)


class OptionsError(ConfigError):
    """Options that do not fit the plugin's declared options class."""


def _strict(kind: type, allowed: tuple[type, ...], name: str) -> Any:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, bool) and kind is not bool:
            raise TypeError(f"must be {name}")
        if not isinstance(value, allowed):
            raise TypeError(f"must be {name}")
        return kind(value)

    return structure


def _strict_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    converter.register_structure_hook(int, _strict(int, (int,), "an integer"))
    converter.register_structure_hook(float, _strict(float, (int, float), "a number"))
    converter.register_structure_hook(str, _strict(str, (str,), "a string"))
    converter.register_structure_hook(bool, _strict(bool, (bool,), "true or false"))
    return converter


_items = _strict_converter()  # structures a list's items once the list itself is checked
_converter = _strict_converter()


def _is_sequence(hint: Any) -> bool:
    return typing.get_origin(hint) in (tuple, list)


def _sequence(value: Any, hint: Any) -> Any:
    # cattrs would take "a:1" as the list ["a", ":", "1"].
    if isinstance(value, str | bytes | Mapping):
        raise TypeError("must be a list")
    return _items.structure(value, hint)


_converter.register_structure_hook_func(_is_sequence, _sequence)


def structure_options(
    cls: type[T],
    options: Mapping[str, Any] | None,
    *,
    where: str,
    error: type[Exception] = OptionsError,
) -> T:
    """``options`` as an instance of ``cls``, or ``error`` naming every bad key, its value
    and what is allowed, e.g. ``store.options.map_size = 'x': must be an integer``."""
    options = dict(options or {})
    known = [field.name for field in attrs.fields(cls)]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise error(f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(known)}")
    try:
        return _converter.structure(options, cls)
    except cattrs.ClassValidationError as exc:
        raise error("; ".join(_messages(exc, options, where))) from None
    except (TypeError, ValueError) as exc:  # an attrs validator: an invariant of the class
        raise error(f"{where}: {exc}") from None


def _messages(exc: cattrs.ClassValidationError, options: Mapping[str, Any], where: str) -> list:
    with_notes, without = exc.group_exceptions()
    # A note names the field whose value had the wrong type; an error without one comes
    # from the class's own validators, whose message names the field itself.
    messages = [
        f"{where}.{note.name} = {options.get(note.name)!r}: {_reason(error)}"
        for error, note in with_notes
    ]
    return messages + [f"{where}: {error}" for error in without]


def _reason(error: BaseException) -> str:
    if isinstance(error, cattrs.IterableValidationError):
        inner = [e for e, _ in error.group_exceptions()[0]]
        return f"an item {_reason(inner[0])}" if inner else "must be a list"
    return str(error) or type(error).__name__


@attrs.frozen
class OptionDoc:
    name: str
    type: str
    default: Any
    help: str


def describe_options(cls: type) -> list[OptionDoc]:
    """One row per option of ``cls``: its name, type, default and help."""
    hints = typing.get_type_hints(cls)
    rows = []
    for field in attrs.fields(cls):
        default = field.default
        # attrs' stubs declare Factory a function; at run time it is the class of defaults
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            default = default.factory()
        if isinstance(default, tuple):  # written as a list in YAML
            default = list(default)
        rows.append(
            OptionDoc(
                field.name,
                _type_name(hints.get(field.name)),
                default,
                field.metadata.get("help", ""),
            )
        )
    return rows


def _type_name(hint: Any) -> str:
    if hint is None:
        return "any"
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(hint))
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(hint)[0])}"
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", str(hint))


def options_table(title: str, cls: type) -> str:
    """A Markdown section listing the options of one plugin part."""
    rows = [f"#### {title}", "", "| option | type | default | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{o.name}` | {o.type} | `{o.default!r}` | {o.help} |" for o in describe_options(cls)
    ]
    return "\n".join(rows)
