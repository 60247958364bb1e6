"""Structural OpenAPI v3 schemas: Kubernetes' rules for a CRD's ``openAPIV3Schema``,
and the typed tree that validation, pruning and defaulting walk.

A schema is *structural* (Kubernetes' apiextensions ``pkg/apiserver/schema``) when:

- every node says its ``type`` (object, array, string, integer, number, boolean) except
  under ``x-kubernetes-int-or-string: true`` or ``x-kubernetes-preserve-unknown-fields:
  true``; the root is ``type: object``; an array has ``items``;
- ``allOf``/``anyOf``/``oneOf``/``not`` only *restrict* values: inside them there is no
  ``type``, ``default``, ``description``, ``title``, ``nullable``, ``additionalProperties``
  or ``x-kubernetes-*`` (but for the int-or-string pattern ``anyOf: [{type: integer},
  {type: string}]``), and every field or ``items`` they name is also specified outside;
- ``additionalProperties`` is not at the root and not beside ``properties`` (a struct or
  a map, never both);
- ``metadata`` at the root restricts only ``name`` and ``generateName``;
- none of the JSON-schema keywords Kubernetes does not support is used (``$ref``,
  ``patternProperties``, ``definitions``, ``dependencies``, ``additionalItems``, ``id``,
  ``uniqueItems: true``, ``type: null``, ``items`` as a list).

Worked example::

    >>> checked = check({"type": "object", "properties": {
    ...     "spec": {"properties": {"cronSpec": {"type": "string"}}},
    ...     "status": {"type": "object", "additionalProperties": {"type": "string"},
    ...                "properties": {"phase": {"type": "string"}}}}})
    >>> [e.describe() for e in checked.errors]   # doctest: +NORMALIZE_WHITESPACE
    ['openAPIV3Schema.properties[spec].type: Required value: must not be empty for
      specified object fields',
     'openAPIV3Schema.properties[status].additionalProperties: Forbidden:
      additionalProperties and properties are mutual exclusive']

Every violation is reported at once, each at its path below the schema, with
Kubernetes' wording. ``check(...).schema`` is the :class:`Structural` tree when there
is none. ``x-kubernetes-validations`` (CEL rules) are accepted but not evaluated: their
paths come back in ``Checked.ignored`` so the API server can warn about them. Patterns
are Python regular expressions; Kubernetes uses Go's RE2, which agrees on the patterns
CRDs use (no back-references or look-arounds in RE2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from navarch.api import errors
from navarch.api.errors import FieldError
from navarch.api.field_checks import Errors

TYPES = ("array", "boolean", "integer", "number", "object", "string")
LIST_TYPES = ("atomic", "map", "set")
MAP_TYPES = ("atomic", "granular")


class _NoDefault:
    def __repr__(self) -> str:
        return "NO_DEFAULT"


NO_DEFAULT: Final[Any] = _NoDefault()


@attrs.frozen(kw_only=True)
class Structural:
    """One node of a structural schema. ``additional_properties`` is a schema, ``True``
    / ``False`` (``additionalProperties: true/false``) or None (not given)."""

    type: str = ""
    format: str = ""
    description: str = ""
    properties: Mapping[str, Structural] = attrs.field(factory=dict)
    items: Structural | None = None
    additional_properties: Structural | bool | None = None
    required: tuple[str, ...] = ()
    enum: tuple[Any, ...] | None = None
    maximum: int | float | None = None
    minimum: int | float | None = None
    exclusive_maximum: bool = False
    exclusive_minimum: bool = False
    multiple_of: int | float | None = None
    max_length: int | None = None
    min_length: int | None = None
    pattern: str | None = None
    max_items: int | None = None
    min_items: int | None = None
    unique_items: bool = False
    max_properties: int | None = None
    min_properties: int | None = None
    nullable: bool = False
    default: Any = NO_DEFAULT
    preserve_unknown_fields: bool = False
    int_or_string: bool = False
    embedded_resource: bool = False
    all_of: tuple[Structural, ...] = ()
    any_of: tuple[Structural, ...] = ()
    one_of: tuple[Structural, ...] = ()
    not_: Structural | None = None
    regex: re.Pattern[str] | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    def field_schema(self, name: str) -> Structural | None:
        """The schema of the object field ``name``: its property, else
        ``additionalProperties`` when that is a schema."""
        found = self.properties.get(name)
        if found is None and isinstance(self.additional_properties, Structural):
            return self.additional_properties
        return found


@attrs.frozen
class Checked:
    schema: Structural | None  # None when there are errors
    errors: tuple[FieldError, ...]
    ignored: tuple[str, ...] = ()


class NotStructural(ValueError):
    """``build`` was given a schema ``check`` refuses."""

    def __init__(self, checked: Checked):
        self.errors = checked.errors
        super().__init__("; ".join(e.describe() for e in checked.errors))


def check(raw: Any, path: str = "openAPIV3Schema") -> Checked:
    """Every keyword and structural-rule violation of ``raw`` (a schema as JSON), and the
    typed tree when there is none."""
    if not isinstance(raw, dict):
        return Checked(None, (errors.type_invalid(path, _kind(raw), "an object"),))
    shapes: Errors = []  # a keyword of the wrong type, or unknown
    errs: Errors = []  # every other rule
    ignored: list[str] = []
    _keywords(raw, path, _Found(shapes, errs, ignored))
    if not shapes:  # the structural rules read the keywords: only once they have the right shapes
        _invariants(raw, path, _ROOT, errs)
        _completeness(raw, path, errs)
    errs = shapes + errs
    if errs:
        return Checked(None, tuple(_sorted(errs)), tuple(ignored))
    return Checked(build(raw), (), tuple(ignored))


def structural(raw: Any) -> Structural:
    """The tree of a schema that must be structural (e.g. one read back from storage);
    raises :class:`NotStructural` otherwise."""
    checked = check(raw)
    if checked.schema is None:
        raise NotStructural(checked)
    return checked.schema


def build(raw: Mapping[str, Any]) -> Structural:
    """The tree of a schema whose keywords ``check`` accepted (not re-checked here)."""
    additional = raw.get("additionalProperties")
    pattern = raw.get("pattern")
    return Structural(
        type=raw.get("type", ""),
        format=raw.get("format", ""),
        description=raw.get("description", ""),
        properties={k: build(v) for k, v in (raw.get("properties") or {}).items()},
        items=build(raw["items"]) if isinstance(raw.get("items"), dict) else None,
        additional_properties=build(additional) if isinstance(additional, dict) else additional,
        required=tuple(raw.get("required") or ()),
        enum=tuple(raw["enum"]) if isinstance(raw.get("enum"), list) else None,
        maximum=raw.get("maximum"),
        minimum=raw.get("minimum"),
        exclusive_maximum=bool(raw.get("exclusiveMaximum")),
        exclusive_minimum=bool(raw.get("exclusiveMinimum")),
        multiple_of=raw.get("multipleOf"),
        max_length=raw.get("maxLength"),
        min_length=raw.get("minLength"),
        pattern=pattern,
        max_items=raw.get("maxItems"),
        min_items=raw.get("minItems"),
        unique_items=bool(raw.get("uniqueItems")),
        max_properties=raw.get("maxProperties"),
        min_properties=raw.get("minProperties"),
        nullable=bool(raw.get("nullable")),
        default=raw.get("default", NO_DEFAULT),
        preserve_unknown_fields=bool(raw.get("x-kubernetes-preserve-unknown-fields")),
        int_or_string=bool(raw.get("x-kubernetes-int-or-string")),
        embedded_resource=bool(raw.get("x-kubernetes-embedded-resource")),
        all_of=tuple(build(s) for s in raw.get("allOf") or ()),
        any_of=tuple(build(s) for s in raw.get("anyOf") or ()),
        one_of=tuple(build(s) for s in raw.get("oneOf") or ()),
        not_=build(raw["not"]) if isinstance(raw.get("not"), dict) else None,
        regex=re.compile(pattern) if isinstance(pattern, str) else None,
    )


# --- keywords: names and shapes (apiextensions validation of JSONSchemaProps) --------

_STRINGS = ("type", "format", "description", "title", "pattern", "$schema")
_NUMBERS = ("maximum", "minimum", "multipleOf")
_COUNTS = (
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "maxProperties",
    "minProperties",
)
_BOOLEANS = (
    "exclusiveMaximum",
    "exclusiveMinimum",
    "uniqueItems",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
)
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
# JSON-schema keywords Kubernetes decodes and then refuses.
_UNSUPPORTED = ("id", "$ref", "additionalItems", "patternProperties", "definitions", "dependencies")
_OTHERS = (
    "properties",
    "items",
    "additionalProperties",
    "not",
    "required",
    "enum",
    "default",
    "example",
    "externalDocs",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
)
KEYWORDS = frozenset(
    (*_STRINGS, *_NUMBERS, *_COUNTS, *_BOOLEANS, *_SCHEMA_LISTS, *_UNSUPPORTED, *_OTHERS)
)


@attrs.frozen
class _Found:
    shapes: Errors
    rules: Errors
    ignored: list[str]


def _keywords(raw: dict[str, Any], path: str, found: _Found) -> None:
    errs = found.shapes
    before = len(errs)
    for key, value in raw.items():
        at = f"{path}.{key}"
        if key not in KEYWORDS:
            errs.append(errors.unknown(at))
        elif key in _STRINGS:
            if type(value) is not str:
                errs.append(errors.type_invalid(at, value, "a string"))
        elif key in _NUMBERS:
            if type(value) not in (int, float):
                errs.append(errors.type_invalid(at, value, "a number"))
            elif key == "multipleOf" and value <= 0:
                errs.append(errors.invalid(at, value, "must be greater than zero"))
        elif key in _COUNTS:
            if type(value) is not int:
                errs.append(errors.type_invalid(at, value, "an integer"))
            elif value < 0:
                errs.append(errors.invalid(at, value, "must be greater than or equal to 0"))
        elif key in _BOOLEANS:
            if type(value) is not bool:
                errs.append(errors.type_invalid(at, value, "a boolean"))
        elif key in _SCHEMA_LISTS:
            if type(value) is not list:
                errs.append(errors.type_invalid(at, value, "a list of schemas"))
            else:
                for i, item in enumerate(value):
                    _sub_schema(item, f"{at}[{i}]", found)
        elif key in ("not", "items", "additionalProperties", "properties"):
            _schema_slot(key, value, at, found)
        elif key in ("required", "x-kubernetes-list-map-keys"):
            if type(value) is not list or any(type(v) is not str for v in value):
                errs.append(errors.type_invalid(at, value, "a list of strings"))
        elif key == "enum" or key == "x-kubernetes-validations":
            if type(value) is not list:
                errs.append(errors.type_invalid(at, value, "a list"))
            elif key == "x-kubernetes-validations":
                found.ignored.append(at)  # CEL rules: kept, not evaluated (the server warns)
        elif key == "externalDocs" and type(value) is not dict:
            errs.append(errors.type_invalid(at, value, "an object"))
        elif key in _UNSUPPORTED:
            found.rules.append(errors.forbidden(at, f"{key} is not supported"))
    if len(errs) == before:
        _keyword_values(raw, path, found.rules)


def _schema_slot(key: str, value: Any, at: str, found: _Found) -> None:
    errs = found.shapes
    if key == "properties":
        if type(value) is not dict:
            errs.append(errors.type_invalid(at, value, "an object"))
            return
        for name, item in value.items():
            _sub_schema(item, f"{at}[{name}]", found)
    elif key == "items" and type(value) is list:
        found.rules.append(errors.forbidden(at, "items must be a schema object and not an array"))
    elif key == "additionalProperties" and type(value) is bool:
        return
    else:
        _sub_schema(value, at, found)


def _sub_schema(value: Any, at: str, found: _Found) -> None:
    if type(value) is not dict:
        found.shapes.append(errors.type_invalid(at, value, "an object"))
    else:
        _keywords(value, at, found)


def _keyword_values(raw: dict[str, Any], path: str, errs: Errors) -> None:
    """Rules on the values of keywords that have the right shapes."""
    type_ = raw.get("type")
    if type_ == "null":
        errs.append(errors.forbidden(f"{path}.type", "type cannot be set to null"))
    elif type_ and type_ not in TYPES:
        errs.append(errors.not_supported(f"{path}.type", type_, TYPES))
    if raw.get("uniqueItems") is True:
        errs.append(
            errors.forbidden(
                f"{path}.uniqueItems",
                "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            )
        )
    if raw.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(
            errors.invalid(
                f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"
            )
        )
    additional = raw.get("additionalProperties")
    if raw.get("properties") and (additional is False or isinstance(additional, dict)):
        errs.append(
            errors.forbidden(
                f"{path}.additionalProperties",
                "additionalProperties and properties are mutual exclusive",
            )
        )
    pattern = raw.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            errs.append(
                errors.invalid(
                    f"{path}.pattern",
                    pattern,
                    f"must be a valid regular expression, but isn't: {exc}",
                )
            )
    _list_and_map_types(raw, path, errs)


def _list_and_map_types(raw: dict[str, Any], path: str, errs: Errors) -> None:
    list_type = raw.get("x-kubernetes-list-type")
    map_keys = raw.get("x-kubernetes-list-map-keys") or []
    if list_type is not None:
        if list_type not in LIST_TYPES:
            errs.append(
                errors.not_supported(f"{path}.x-kubernetes-list-type", list_type, LIST_TYPES)
            )
        if raw.get("type") != "array":
            errs.append(
                errors.invalid(
                    f"{path}.type",
                    raw.get("type", ""),
                    "must be array if x-kubernetes-list-type is specified",
                )
            )
        if list_type == "map" and not map_keys:
            errs.append(
                errors.required(
                    f"{path}.x-kubernetes-list-map-keys",
                    "must not be empty if x-kubernetes-list-type is map",
                )
            )
    if map_keys and list_type != "map":
        errs.append(
            errors.invalid(
                f"{path}.x-kubernetes-list-type",
                list_type,
                "must be map if x-kubernetes-list-map-keys is non-empty",
            )
        )
    map_type = raw.get("x-kubernetes-map-type")
    if map_type is not None:
        if map_type not in MAP_TYPES:
            errs.append(errors.not_supported(f"{path}.x-kubernetes-map-type", map_type, MAP_TYPES))
        if raw.get("type") != "object":
            errs.append(
                errors.invalid(
                    f"{path}.type",
                    raw.get("type", ""),
                    "must be object if x-kubernetes-map-type is specified",
                )
            )


# --- structural invariants (validateStructuralInvariants) ----------------------------

_ROOT, _ITEM, _FIELD = "root", "item", "field"
_EMPTY_TYPE = {
    _ROOT: "must not be empty at the root",
    _ITEM: "must not be empty for specified array items",
    _FIELD: "must not be empty for specified object fields",
}
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]


def _invariants(raw: dict[str, Any], path: str, level: str, errs: Errors) -> None:
    type_ = raw.get("type", "")
    items = raw.get("items")
    if type_ == "array" and items is None:
        errs.append(errors.required(f"{path}.items", "must be specified"))
    if isinstance(items, dict):
        _invariants(items, f"{path}.items", _ITEM, errs)
    properties = raw.get("properties") or {}
    for name, prop in properties.items():
        _invariants(prop, f"{path}.properties[{name}]", _FIELD, errs)
    additional = raw.get("additionalProperties")
    if additional is not None:
        if level == _ROOT:
            errs.append(
                errors.forbidden(f"{path}.additionalProperties", "must not be used at the root")
            )
        if isinstance(additional, dict):
            _invariants(additional, f"{path}.additionalProperties", _FIELD, errs)
    int_or_string = bool(raw.get("x-kubernetes-int-or-string"))
    preserve = bool(raw.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(raw.get("x-kubernetes-embedded-resource"))
    if int_or_string and preserve:
        errs.append(
            errors.invalid(
                f"{path}.x-kubernetes-preserve-unknown-fields",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    if int_or_string and embedded:
        errs.append(
            errors.invalid(
                f"{path}.x-kubernetes-embedded-resource",
                True,
                "must be false if x-kubernetes-int-or-string is true",
            )
        )
    _value_validations(raw, path, level, errs, skip_any_of=_is_int_or_string_any_of(raw))
    if embedded and type_ != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        errs.append(
            errors.invalid(f"{path}.type", type_, detail)
            if type_
            else errors.required(f"{path}.type", detail)
        )
    elif not type_ and not int_or_string and not preserve:
        errs.append(errors.required(f"{path}.type", _EMPTY_TYPE[level]))
    if embedded and additional is not None:
        errs.append(
            errors.forbidden(
                f"{path}.additionalProperties",
                "must not be used if x-kubernetes-embedded-resource is set",
            )
        )
    if level == _ROOT and type_ and type_ != "object":
        errs.append(errors.invalid(f"{path}.type", type_, "must be object at the root"))
    check_metadata = level == _ROOT or embedded
    if check_metadata:
        for name in ("kind", "apiVersion"):
            if name in properties and properties[name].get("type", "") != "string":
                errs.append(
                    errors.invalid(
                        f"{path}.properties[{name}].type",
                        properties[name].get("type", ""),
                        "must be string",
                    )
                )
    if "metadata" in properties:
        _metadata(
            properties["metadata"], f"{path}.properties[metadata]", level, check_metadata, errs
        )
    if embedded and not preserve and not properties:
        errs.append(
            errors.required(
                f"{path}.properties",
                "must not be empty if x-kubernetes-embedded-resource is true without "
                "x-kubernetes-preserve-unknown-fields",
            )
        )


def _metadata(raw: dict[str, Any], path: str, level: str, check: bool, errs: Errors) -> None:
    if check and raw.get("type", "") != "object":
        errs.append(errors.invalid(f"{path}.type", raw.get("type", ""), "must be object"))
    if level != _ROOT:
        return
    # ObjectMeta is Kubernetes' own: a CRD may only narrow the name (and generateName).
    allowed_properties = set(raw.get("properties") or {}) <= {"name", "generateName"}
    others = [k for k, v in raw.items() if k not in ("type", "default", "properties") and v]
    if others or not allowed_properties:
        errs.append(
            errors.forbidden(
                path,
                "must not specify anything other than name and generateName, but metadata "
                "is implicitly specified",
            )
        )


def _is_int_or_string_any_of(raw: dict[str, Any]) -> bool:
    return raw.get("anyOf") == _INT_OR_STRING_ANY_OF


def _is_int_or_string_all_of(raw: dict[str, Any]) -> bool:
    all_of = raw.get("allOf") or []
    return bool(all_of) and _is_int_or_string_any_of(all_of[0])


def _value_validations(
    raw: dict[str, Any], path: str, level: str, errs: Errors, *, skip_any_of: bool
) -> None:
    """The rules on ``allOf``/``anyOf``/``oneOf``/``not`` below a node."""
    skip_first_all_of = _is_int_or_string_all_of(raw)
    if not skip_any_of:
        for i, nested in enumerate(raw.get("anyOf") or ()):
            _nested(nested, f"{path}.anyOf[{i}]", level, errs)
    for i, nested in enumerate(raw.get("allOf") or ()):
        _nested(nested, f"{path}.allOf[{i}]", level, errs, skip_any_of=skip_first_all_of and i == 0)
    for i, nested in enumerate(raw.get("oneOf") or ()):
        _nested(nested, f"{path}.oneOf[{i}]", level, errs)
    if isinstance(raw.get("not"), dict):
        _nested(raw["not"], f"{path}.not", level, errs)


# keyword -> the message when a value validation sets it
_NESTED_FORBIDDEN = {
    "type": "must be empty to be structural",
    "additionalProperties": "must be undefined to be structural",
    "default": "must be undefined to be structural",
    "title": "must be empty to be structural",
    "description": "must be empty to be structural",
    "nullable": "must be false to be structural",
    "externalDocs": "must be undefined to be structural",
    "x-kubernetes-preserve-unknown-fields": "must be false to be structural",
    "x-kubernetes-embedded-resource": "must be false to be structural",
    "x-kubernetes-int-or-string": "must be false to be structural",
    "x-kubernetes-list-map-keys": "must be empty to be structural",
    "x-kubernetes-list-type": "must be undefined to be structural",
    "x-kubernetes-map-type": "must be undefined to be structural",
    "x-kubernetes-validations": "must be empty to be structural",
}


def _nested(
    raw: dict[str, Any], path: str, level: str, errs: Errors, *, skip_any_of: bool = False
) -> None:
    _value_validations(raw, path, level, errs, skip_any_of=skip_any_of)
    if isinstance(raw.get("items"), dict):
        _nested(raw["items"], f"{path}.items", level, errs)
    for name, prop in (raw.get("properties") or {}).items():
        _nested(prop, f"{path}.properties[{name}]", _FIELD, errs)
    for key, message in _NESTED_FORBIDDEN.items():
        present = key in raw if key == "default" else raw.get(key) not in (None, False, "", [])
        if present:
            errs.append(errors.forbidden(f"{path}.{key}", message))
    if "metadata" in (raw.get("properties") or {}):
        errs.append(
            errors.forbidden(
                f"{path}.properties[metadata]", "must not be specified in a nested context"
            )
        )


# --- completeness (validateStructuralCompleteness) -----------------------------------


def _completeness(raw: dict[str, Any], path: str, errs: Errors) -> None:
    """Every field and ``items`` a value validation names is specified outside it too."""
    for key in _SCHEMA_LISTS:
        for i, nested in enumerate(raw.get(key) or ()):
            _nested_completeness(nested, raw, path, f"{path}.{key}[{i}]", errs)
    if isinstance(raw.get("not"), dict):
        _nested_completeness(raw["not"], raw, path, f"{path}.not", errs)
    if isinstance(raw.get("items"), dict):
        _completeness(raw["items"], f"{path}.items", errs)
    for name, prop in (raw.get("properties") or {}).items():
        _completeness(prop, f"{path}.properties[{name}]", errs)
    if isinstance(raw.get("additionalProperties"), dict):
        _completeness(raw["additionalProperties"], f"{path}.additionalProperties", errs)


def _nested_completeness(
    nested: dict[str, Any], outer: dict[str, Any] | None, path: str, nested_path: str, errs: Errors
) -> None:
    items = nested.get("items")
    if isinstance(items, dict):
        outer_items = outer.get("items") if outer else None
        if not isinstance(outer_items, dict):
            errs.append(
                errors.required(f"{path}.items", f"because it is defined in {nested_path}.items")
            )
        else:
            _nested_completeness(items, outer_items, f"{path}.items", f"{nested_path}.items", errs)
    outer_properties = (outer or {}).get("properties") or {}
    for name, prop in (nested.get("properties") or {}).items():
        here = f"{path}.properties[{name}]"
        if name not in outer_properties:
            errs.append(
                errors.required(here, f"because it is defined in {nested_path}.properties[{name}]")
            )
        else:
            _nested_completeness(
                prop, outer_properties[name], here, f"{nested_path}.properties[{name}]", errs
            )
    for key in _SCHEMA_LISTS:
        for i, deeper in enumerate(nested.get(key) or ()):
            _nested_completeness(deeper, outer, path, f"{nested_path}.{key}[{i}]", errs)
    if isinstance(nested.get("not"), dict):
        _nested_completeness(nested["not"], outer, path, f"{nested_path}.not", errs)


def _sorted(errs: Errors) -> list[FieldError]:
    # Kubernetes sorts these too: schemas are maps, and the order would otherwise vary.
    return sorted(errs, key=lambda e: e.describe())


def _kind(value: Any) -> str:
    return type(value).__name__
