"""Validation of where a pod may run: tolerations, node affinity and node selector terms,
pod (anti-)affinity, topology spread constraints.
"""

from __future__ import annotations

from navarch.api import errors, names, selectors
from navarch.api.core_v1 import NodeAffinity, NodeSelectorTerm, PodSpec, Toleration
from navarch.api.field_checks import Errors, enum, named, positive, validate_label_selector
from navarch.api.pod_kept import PodAffinity, PodAffinityTerm
from navarch.api.schema import join

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_OPERATORS = ("Exists", "Equal")
UNSATISFIABLE_ACTIONS = ("DoNotSchedule", "ScheduleAnyway")
INCLUSION_POLICIES = ("Ignore", "Honor")


def validate_toleration(toleration: Toleration, path: str) -> Errors:
    errs: Errors = []
    operator = toleration.operator or "Equal"
    errs += enum(toleration.operator, join(path, "operator"), TOLERATION_OPERATORS)
    if toleration.key:
        errs += [
            errors.invalid(join(path, "key"), toleration.key, p)
            for p in names.qualified_name(toleration.key)
        ]
    elif operator != "Exists":
        errs.append(
            errors.invalid(
                join(path, "operator"), operator, "operator must be Exists when `key` is empty"
            )
        )
    if operator == "Exists" and toleration.value:
        errs.append(
            errors.invalid(
                join(path, "operator"), operator, "value must be empty when `operator` is 'Exists'"
            )
        )
    errs += enum(toleration.effect or None, join(path, "effect"), TAINT_EFFECTS)
    if toleration.toleration_seconds is not None and toleration.effect != "NoExecute":
        errs.append(
            errors.invalid(
                join(path, "effect"),
                toleration.effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            )
        )
    return errs


def validate_node_affinity(node_affinity: NodeAffinity, path: str) -> Errors:
    """Required terms (at least one) and weighted preferred terms of a node affinity."""
    errs: Errors = []
    required = node_affinity.required_during_scheduling_ignored_during_execution
    if required is not None:
        req_path = join(path, "requiredDuringSchedulingIgnoredDuringExecution")
        terms_path = join(req_path, "nodeSelectorTerms")
        if not required.node_selector_terms:
            errs.append(errors.required(terms_path, "must have at least one node selector term"))
        for i, term in enumerate(required.node_selector_terms or ()):
            errs += validate_node_selector_term(term, f"{terms_path}[{i}]")
    preferred = node_affinity.preferred_during_scheduling_ignored_during_execution
    pref_path = join(path, "preferredDuringSchedulingIgnoredDuringExecution")
    for i, pref in enumerate(preferred or ()):
        item = f"{pref_path}[{i}]"
        if pref.weight is None or not 1 <= pref.weight <= 100:
            errs.append(
                errors.invalid(join(item, "weight"), pref.weight, "must be in the range 1-100")
            )
        if pref.preference is None:
            errs.append(errors.required(join(item, "preference")))
        else:
            errs += validate_node_selector_term(pref.preference, join(item, "preference"))
    return errs


def validate_node_selector_term(term: NodeSelectorTerm, path: str) -> Errors:
    errs: Errors = []
    for field, wire_name in (
        ("match_expressions", "matchExpressions"),
        ("match_fields", "matchFields"),
    ):
        for i, req in enumerate(getattr(term, field) or ()):
            req_path = f"{join(path, wire_name)}[{i}]"
            if not req.key:
                errs.append(errors.required(join(req_path, "key")))
            if req.operator not in selectors.NODE_OPERATORS:
                errs.append(
                    errors.not_supported(
                        join(req_path, "operator"), req.operator, selectors.NODE_OPERATORS
                    )
                )
                continue
            requirement = selectors.Requirement(
                req.key or "", req.operator, tuple(req.values or ())
            )
            for problem in selectors.validate_requirement(requirement):
                errs.append(
                    errors.invalid(join(req_path, "values"), list(req.values or ()), problem)
                )
    return errs


def validate_topology_spread(spec: PodSpec, path: str) -> Errors:
    errs: Errors = []
    seen: set[tuple[str, str]] = set()
    for i, constraint in enumerate(spec.topology_spread_constraints or ()):
        item = f"{join(path, 'topologySpreadConstraints')}[{i}]"
        if constraint.max_skew is None or constraint.max_skew <= 0:
            errs.append(
                errors.invalid(
                    join(item, "maxSkew"), constraint.max_skew, "must be greater than zero"
                )
            )
        key_path = join(item, "topologyKey")
        if not constraint.topology_key:
            errs.append(errors.required(key_path, "can not be empty"))
        else:
            errs += named(constraint.topology_key, key_path, names.qualified_name)
        action_path = join(item, "whenUnsatisfiable")
        if not constraint.when_unsatisfiable:
            errs.append(errors.required(action_path))
        else:
            errs += enum(constraint.when_unsatisfiable, action_path, UNSATISFIABLE_ACTIONS)
        if constraint.min_domains is not None:
            errs += positive(constraint.min_domains, join(item, "minDomains"))
            if constraint.when_unsatisfiable != "DoNotSchedule":
                errs.append(
                    errors.invalid(
                        join(item, "minDomains"),
                        constraint.min_domains,
                        "can only use minDomains if whenUnsatisfiable=DoNotSchedule, "
                        f"not {constraint.when_unsatisfiable}",
                    )
                )
        pair = (constraint.topology_key or "", constraint.when_unsatisfiable or "")
        if pair in seen:
            errs.append(errors.duplicate(item, f"{{{pair[0]}, {pair[1]}}}"))
        seen.add(pair)
        errs += enum(
            constraint.node_affinity_policy, join(item, "nodeAffinityPolicy"), INCLUSION_POLICIES
        )
        errs += enum(
            constraint.node_taints_policy, join(item, "nodeTaintsPolicy"), INCLUSION_POLICIES
        )
        if constraint.label_selector is not None:
            errs += validate_label_selector(constraint.label_selector, join(item, "labelSelector"))[
                0
            ]
        elif constraint.match_label_keys:
            errs.append(
                errors.forbidden(
                    join(item, "matchLabelKeys"),
                    "must not be specified when labelSelector is not set",
                )
            )
        for j, key in enumerate(constraint.match_label_keys or ()):
            errs += named(key, f"{join(item, 'matchLabelKeys')}[{j}]", names.qualified_name)
    return errs


def validate_pod_affinity(affinity: PodAffinity | None, path: str) -> Errors:
    if affinity is None:
        return []
    errs: Errors = []
    required_path = join(path, "requiredDuringSchedulingIgnoredDuringExecution")
    for i, term in enumerate(affinity.required_during_scheduling_ignored_during_execution or ()):
        errs += _pod_affinity_term(term, f"{required_path}[{i}]")
    preferred_path = join(path, "preferredDuringSchedulingIgnoredDuringExecution")
    for i, weighted in enumerate(
        affinity.preferred_during_scheduling_ignored_during_execution or ()
    ):
        item = f"{preferred_path}[{i}]"
        if weighted.weight is None or not 1 <= weighted.weight <= 100:
            errs.append(
                errors.invalid(join(item, "weight"), weighted.weight, "must be in the range 1-100")
            )
        term_path = join(item, "podAffinityTerm")
        if weighted.pod_affinity_term is None:
            errs.append(errors.required(term_path))
        else:
            errs += _pod_affinity_term(weighted.pod_affinity_term, term_path)
    return errs


def _pod_affinity_term(term: PodAffinityTerm, path: str) -> Errors:
    errs: Errors = []
    key_path = join(path, "topologyKey")
    if not term.topology_key:
        errs.append(errors.required(key_path, "can not be empty"))
    else:
        errs += named(term.topology_key, key_path, names.qualified_name)
    if term.label_selector is not None:
        errs += validate_label_selector(term.label_selector, join(path, "labelSelector"))[0]
    if term.namespace_selector is not None:
        errs += validate_label_selector(term.namespace_selector, join(path, "namespaceSelector"))[0]
    for i, namespace in enumerate(term.namespaces or ()):
        errs += named(namespace, f"{join(path, 'namespaces')}[{i}]", names.dns1123_label)
    for field, wire in (
        (term.match_label_keys, "matchLabelKeys"),
        (term.mismatch_label_keys, "mismatchLabelKeys"),
    ):
        for i, key in enumerate(field or ()):
            errs += named(key, f"{join(path, wire)}[{i}]", names.qualified_name)
    return errs
