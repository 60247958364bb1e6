"""Loading wire objects into the model: ``load`` (default, decode, validate), ``decode``
(collecting field errors) and ``dump``; re-exported by :mod:`navarch.api`."""

from __future__ import annotations

from typing import Any

import attrs

from navarch.api import errors
from navarch.api.defaults import apply_defaults
from navarch.api.errors import FieldError, InvalidObject
from navarch.api.meta import TopLevel
from navarch.api.schema import Decoded, unstructure
from navarch.api.validation import validate


@attrs.frozen
class Loaded:
    obj: TopLevel
    ignored: tuple[str, ...]


@attrs.frozen
class Decoding:
    """A decode that may have failed in places: ``obj`` is built with every bad field left
    out, so validation can still run and all problems be reported at once."""

    obj: TopLevel
    ignored: tuple[str, ...]
    errors: tuple[FieldError, ...]
    name: str | None


def decode(data: Any, *, defaults: bool = True) -> Decoding:
    """Default and decode ``data`` (owned by the call), collecting field errors. The
    kind's model and defaults come from the resource registry (its strategy's
    ``default``), so a plugin's kind decodes the same way as the core's."""
    if not isinstance(data, dict):
        raise InvalidObject("", None, [errors.type_invalid("", type(data).__name__, "an object")])
    from navarch.resources.registry import registry  # which kinds exist: plugins say

    served = registry()
    cls = served.model_for(data.get("apiVersion"), data.get("kind"))
    if defaults and issubclass(cls, TopLevel):
        apply_defaults(data, namespaced=cls.NAMESPACED)
        resource = served.for_kind(cls.KIND, cls.API_VERSION)
        if resource is not None:
            resource.strategy.default(data)  # the kind's own defaults
    decoded = Decoded()
    obj = decoded.structure(cls, data, "")
    return Decoding(obj, tuple(decoded.ignored), tuple(decoded.errors), _name_of(data))


def merge_errors(first: Any, later: Any) -> list[FieldError]:
    """``first`` then the errors of ``later`` at paths ``first`` does not already name
    (a field that failed to decode was left absent: it is not also "missing")."""
    reported = {e.path for e in first}
    return [*first, *(e for e in later if e.path not in reported)]


def load(data: Any, *, defaults: bool = True, check: bool = True) -> Loaded:
    """Decode one top-level object of a served kind.

    ``data`` is owned by the call (defaults are written into it). Raises
    :class:`UnknownKind` for a kind Navarch does not serve and :class:`InvalidObject`
    with every field error found, decoding and validation errors together.
    """
    decoding = decode(data, defaults=defaults)
    problems = list(decoding.errors)
    if check and isinstance(decoding.obj, TopLevel):
        problems = merge_errors(problems, validate(decoding.obj))
    if problems:
        raise InvalidObject(type(decoding.obj).KIND, decoding.name, problems)
    return Loaded(decoding.obj, decoding.ignored)


def dump(obj: Any) -> dict[str, Any]:
    """The wire dict of a model object."""
    return unstructure(obj)


def _name_of(data: dict[str, Any]) -> str | None:
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
        return metadata["name"]
    return None
