"""Validation of a CustomResourceDefinition as Kubernetes does it (apiextensions
``pkg/apis/apiextensions/validation``), plus Navarch's one limit.

Kubernetes' rules: the name is ``<plural>.<group>``; the group is a DNS subdomain with
a dot; plural, singular, short names and categories are DNS-1035 labels, kind and
listKind too once lowercased (``CronTab`` is fine, ``Cron_Tab`` is not) and never the
same; the scope is ``Namespaced`` or ``Cluster``; version names are DNS-1035 labels,
unique, exactly one marked ``storage`` and at least one ``served``; every version has
a structural schema (:mod:`~navarch.apiextensions.structural`) whose ``default`` values
are valid and specify no unknown fields; printer columns have a name, a supported type
and format and a simple JSONPath; scale paths lie under ``.spec``/``.status``;
``preserveUnknownFields`` is false; ``status.storedVersions`` name versions in the spec.

Navarch's limit: **one version per CRD.** With no conversion between versions yet, a
CRD listing several is refused, as is a ``Webhook`` conversion::

    spec.versions: Forbidden: Navarch serves one version per CustomResourceDefinition:
    several versions need conversion between them (conversion webhooks), which Navarch
    does not support yet; found 2 (v1beta1, v1): keep only the storage version

Worked example: ``metadata.name: crontab.stable.example.com`` with ``plural: crontabs``
gives ``metadata.name: Invalid value: "crontab.stable.example.com": must be
spec.names.plural+"."+spec.group``.
"""

from __future__ import annotations

import re
from typing import Any

from navarch.api import errors, names
from navarch.api.field_checks import Errors
from navarch.api.validation.object_meta import validate_object_meta
from navarch.apiextensions import structural
from navarch.apiextensions.columns import COLUMN_FORMATS, COLUMN_TYPES
from navarch.apiextensions.jsonpath import JSONPathError, parse
from navarch.apiextensions.pruning import prune
from navarch.apiextensions.structural import Structural
from navarch.apiextensions.v1 import (
    CONVERSION_STRATEGIES,
    ESTABLISHED,
    SCOPES,
    WEBHOOK_CONVERTER,
    CustomResourceColumnDefinition,
    CustomResourceDefinition,
    CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec,
    CustomResourceDefinitionVersion,
    CustomResourceSubresourceScale,
)
from navarch.apiextensions.validation import validate

MAX_VERSIONS = 1  # Navarch's limit until conversion between versions exists


def validate_crd(crd: CustomResourceDefinition) -> Errors:
    """Every field error of a (defaulted) CRD being created; empty when valid."""
    errs: Errors = []
    if crd.api_version != crd.API_VERSION:
        errs.append(errors.not_supported("apiVersion", crd.api_version, [crd.API_VERSION]))
    if crd.kind != crd.KIND:
        errs.append(errors.not_supported("kind", crd.kind, [crd.KIND]))
    spec = crd.spec or CustomResourceDefinitionSpec()
    required_name = f"{_names(spec).plural or ''}.{spec.group or ''}"

    def name_rule(value: str) -> list[str]:
        problems = names.dns1123_subdomain(value)
        if value != required_name:
            problems.append('must be spec.names.plural+"."+spec.group')
        return problems

    errs += validate_object_meta(crd.metadata, "metadata", False, name_rule)
    if crd.spec is None:
        errs.append(errors.required("spec"))
    else:
        errs += validate_spec(crd.spec, "spec")
    errs += _status(crd)
    return errs


def validate_crd_update(new: CustomResourceDefinition, old: CustomResourceDefinition) -> Errors:
    """``validate_crd`` plus Kubernetes' update rules: group and plural never change
    (they make the CRD's name); scope and kind not once the CRD is Established (objects
    are stored under them)."""
    errs = validate_crd(new)
    new_spec = new.spec or CustomResourceDefinitionSpec()
    old_spec = old.spec or CustomResourceDefinitionSpec()
    immutable: list[tuple[str, Any, Any]] = [
        ("spec.group", new_spec.group, old_spec.group),
        ("spec.names.plural", _names(new_spec).plural, _names(old_spec).plural),
    ]
    if old.is_condition_true(ESTABLISHED):
        immutable += [
            ("spec.scope", new_spec.scope, old_spec.scope),
            ("spec.names.kind", _names(new_spec).kind, _names(old_spec).kind),
        ]
    for path, now, before in immutable:
        if now != before:
            errs.append(errors.invalid(path, now, "field is immutable"))
    return errs


def validate_spec(spec: CustomResourceDefinitionSpec, path: str) -> Errors:
    errs: Errors = []
    if not spec.group:
        errs.append(errors.required(f"{path}.group"))
    else:
        problems = names.dns1123_subdomain(spec.group)
        if problems:
            errs.append(errors.invalid(f"{path}.group", spec.group, ",".join(problems)))
        elif "." not in spec.group:
            errs.append(
                errors.invalid(
                    f"{path}.group", spec.group, "should be a domain with at least one dot"
                )
            )
    if not spec.scope:
        errs.append(errors.required(f"{path}.scope"))
    elif spec.scope not in SCOPES:
        errs.append(errors.not_supported(f"{path}.scope", spec.scope, SCOPES))
    spec_names = _names(spec)
    for field, wire in (
        ("plural", "plural"),
        ("singular", "singular"),
        ("kind", "kind"),
        ("list_kind", "listKind"),
    ):
        if not getattr(spec_names, field):
            errs.append(errors.required(f"{path}.names.{wire}"))
    errs += validate_names(spec_names, f"{path}.names")
    errs += _versions(spec, f"{path}.versions")
    errs += _conversion(spec, f"{path}.conversion")
    if spec.preserve_unknown_fields:
        errs.append(
            errors.invalid(
                f"{path}.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        )
    return errs


def validate_names(crd_names: CustomResourceDefinitionNames, path: str) -> Errors:
    """Kubernetes' ``ValidateCustomResourceDefinitionNames`` (spec.names and
    status.acceptedNames): set names only; which are required is the caller's rule."""
    errs: Errors = []
    for value, wire in ((crd_names.plural, "plural"), (crd_names.singular, "singular")):
        if value:
            errs += _dns1035(value, f"{path}.{wire}")
    for value, wire in ((crd_names.kind, "kind"), (crd_names.list_kind, "listKind")):
        problems = names_dns1035(value.lower()) if value else []
        if problems:
            errs.append(
                errors.invalid(
                    f"{path}.{wire}",
                    value,
                    "may have mixed case, but should otherwise match: " + ",".join(problems),
                )
            )
    for i, short in enumerate(crd_names.short_names or ()):
        errs += _dns1035(short, f"{path}.shortNames[{i}]")
    if crd_names.kind and crd_names.kind == crd_names.list_kind:
        errs.append(
            errors.invalid(
                f"{path}.listKind", crd_names.list_kind, "kind and listKind may not be the same"
            )
        )
    for i, category in enumerate(crd_names.categories or ()):
        errs += _dns1035(category, f"{path}.categories[{i}]")
    return errs


def _versions(spec: CustomResourceDefinitionSpec, path: str) -> Errors:
    versions = spec.versions or ()
    if not versions:
        return [errors.required(path, "must have exactly one version marked as storage version")]
    errs: Errors = []
    seen: set[str] = set()
    unique = True
    for i, version in enumerate(versions):
        name = version.name or ""
        unique = unique and name not in seen
        seen.add(name)
        errs += _version(version, f"{path}[{i}]")
    listed = [v.to_dict() for v in versions]
    if not unique:
        errs.append(errors.invalid(path, listed, "must contain unique version names"))
    if sum(1 for v in versions if v.storage) != 1:
        errs.append(
            errors.invalid(path, listed, "must have exactly one version marked as storage version")
        )
    if not any(v.served for v in versions):
        errs.append(errors.invalid(path, listed, "must have at least one version served"))
    if len(versions) > MAX_VERSIONS:
        found = ", ".join(v.name or "?" for v in versions)
        errs.append(
            errors.forbidden(
                path,
                "Navarch serves one version per CustomResourceDefinition: several versions "
                "need conversion between them (conversion webhooks), which Navarch does not "
                f"support yet; found {len(versions)} ({found}): keep only the storage version",
            )
        )
    return errs


def _version(version: CustomResourceDefinitionVersion, path: str) -> Errors:
    errs: Errors = []
    if not version.name:
        errs.append(errors.required(f"{path}.name"))
    else:
        errs += _dns1035(version.name, f"{path}.name")
    raw_schema = version.open_api_v3_schema()
    schema_path = f"{path}.schema.openAPIV3Schema"
    if raw_schema is None:
        errs.append(errors.required(schema_path, "schemas are required"))
    else:
        checked = structural.check(raw_schema, schema_path)
        errs += checked.errors
        if checked.schema is not None:
            errs += _defaults(checked.schema, schema_path)
    for i, column in enumerate(version.additional_printer_columns or ()):
        errs += _column(column, f"{path}.additionalPrinterColumns[{i}]")
    scale = version.subresources.scale if version.subresources else None
    if scale is not None:
        errs += _scale(scale, f"{path}.subresources.scale")
    return errs


def _defaults(schema: Structural, path: str) -> Errors:
    """Each ``default`` must be valid for its node and specify no unknown fields."""
    errs: Errors = []
    if schema.has_default:
        value = schema.default
        at = f"{path}.default"
        if isinstance(value, (dict, list)):
            removed: list[str] = []
            prune(
                {"value": value},
                Structural(properties={"value": schema}),
                resource_root=False,
                removed=removed,
            )
            if removed:
                errs.append(
                    errors.invalid(
                        at,
                        value,
                        "must not have unknown fields: "
                        + ", ".join(p.removeprefix("value").lstrip(".") for p in removed),
                    )
                )
        errs += validate(value, schema, at)
    for name, prop in schema.properties.items():
        errs += _defaults(prop, f"{path}.properties[{name}]")
    if schema.items is not None:
        errs += _defaults(schema.items, f"{path}.items")
    if isinstance(schema.additional_properties, Structural):
        errs += _defaults(schema.additional_properties, f"{path}.additionalProperties")
    return errs


def _column(column: CustomResourceColumnDefinition, path: str) -> Errors:
    errs: Errors = []
    if not column.name:
        errs.append(errors.required(f"{path}.name"))
    if not column.type:
        errs.append(errors.required(f"{path}.type", f"must be one of {','.join(COLUMN_TYPES)}"))
    elif column.type not in COLUMN_TYPES:
        errs.append(errors.not_supported(f"{path}.type", column.type, COLUMN_TYPES))
    if column.format and column.format not in COLUMN_FORMATS:
        errs.append(errors.not_supported(f"{path}.format", column.format, COLUMN_FORMATS))
    if column.priority is not None and column.priority < 0:
        errs.append(
            errors.invalid(
                f"{path}.priority", column.priority, "must be greater than or equal to 0"
            )
        )
    if not column.json_path:
        errs.append(errors.required(f"{path}.jsonPath"))
    else:
        errs += _json_path(column.json_path, f"{path}.jsonPath")
    return errs


def _scale(scale: CustomResourceSubresourceScale, path: str) -> Errors:
    errs: Errors = []
    for value, wire, prefixes in (
        (scale.spec_replicas_path, "specReplicasPath", (".spec.",)),
        (scale.status_replicas_path, "statusReplicasPath", (".status.",)),
        (scale.label_selector_path, "labelSelectorPath", (".spec.", ".status.")),
    ):
        at = f"{path}.{wire}"
        if not value:
            if wire != "labelSelectorPath":
                errs.append(errors.required(at))
            continue
        problems = _json_path(value, at)
        if problems:
            errs += problems
        elif not value.startswith(prefixes):
            under = " or ".join(p.rstrip(".") for p in prefixes)
            errs.append(errors.invalid(at, value, f"should be a json path under {under}"))
    return errs


def _json_path(value: str, path: str) -> Errors:
    if not value.startswith("."):
        return [errors.invalid(path, value, "must be a simple json path starting with .")]
    try:
        parse(value)
    except JSONPathError as exc:
        return [errors.invalid(path, value, str(exc))]
    return []


def _conversion(spec: CustomResourceDefinitionSpec, path: str) -> Errors:
    strategy = spec.conversion.strategy if spec.conversion else None
    if strategy is None:
        return [errors.required(f"{path}.strategy")] if spec.conversion else []
    if strategy not in CONVERSION_STRATEGIES:
        return [errors.not_supported(f"{path}.strategy", strategy, CONVERSION_STRATEGIES)]
    if strategy == WEBHOOK_CONVERTER:
        return [
            errors.forbidden(
                f"{path}.strategy",
                "conversion webhooks are not supported by Navarch yet; use strategy None "
                "with a single version",
            )
        ]
    if spec.conversion and spec.conversion.webhook is not None:
        return [
            errors.forbidden(
                f"{path}.webhook", "should not be set when strategy is not set to Webhook"
            )
        ]
    return []


def _status(crd: CustomResourceDefinition) -> Errors:
    if crd.status is None:
        return []
    errs: Errors = []
    if crd.status.accepted_names is not None:
        errs += validate_names(crd.status.accepted_names, "status.acceptedNames")
    declared = {v.name for v in crd.versions()}
    for i, stored in enumerate(crd.status.stored_versions or ()):
        if stored not in declared:
            errs.append(
                errors.invalid(
                    f"status.storedVersions[{i}]", stored, "must appear in spec.versions"
                )
            )
    return errs


def _names(spec: CustomResourceDefinitionSpec) -> CustomResourceDefinitionNames:
    return spec.names or CustomResourceDefinitionNames()


def names_dns1035(value: str) -> list[str]:
    """A DNS-1035 label's problems: like RFC 1123 but starting with a letter."""
    problems = []
    if len(value) > names.DNS1123_LABEL_MAX:
        problems.append(f"must be no more than {names.DNS1123_LABEL_MAX} characters")
    if not _DNS1035.fullmatch(value):
        problems.append(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
            "start with an alphabetic character, and end with an alphanumeric character "
            "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')"
        )
    return problems


def _dns1035(value: str, path: str) -> Errors:
    problems = names_dns1035(value)
    return [errors.invalid(path, value, ",".join(problems))] if problems else []


_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
