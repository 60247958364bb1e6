"""What a verb's positional words name, as kubectl reads them: ``pods``, ``pods web db``,
``pods,deploy``, ``all``, ``pod/web deploy/api``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.session import find_resource

if TYPE_CHECKING:
    from navarch.resources.spec import Resource


@attrs.frozen
class Target:
    """One resource type and the names asked for (empty: every object)."""

    res: Resource
    names: tuple[str, ...] = ()


def parse_targets(words: Sequence[str]) -> list[Target]:
    """``["pods", "web"]`` → pods web; ``["pod/web", "deploy/api"]`` → one Target per
    word; ``["pods,deploy"]`` and ``["all"]`` → several types."""
    if not words:
        from navarch.resources.registry import registry

        raise CliError(
            "you must specify the type of resource to get; known types: "
            + ", ".join(r.plural for r in registry())
        )
    if any("/" in word for word in words):
        targets = []
        for word in words:
            kind, slash, name = word.partition("/")
            if not slash or not kind or not name:
                raise CliError(
                    f"there is no need to specify a resource type as a separate argument when "
                    f'passing arguments in resource/name form (e.g. "pod/web"): got "{word}"'
                )
            targets.append(Target(find_resource(kind), (name,)))
        return targets
    kinds, names = words[0], tuple(words[1:])
    resources = _expand(kinds.split(","))
    if names and len(resources) > 1:
        raise CliError(
            f'names ({" ".join(names)}) can be given with one resource type only, not "{kinds}"'
        )
    return [Target(res, names) for res in resources]


def _expand(words: Sequence[str]) -> list[Resource]:
    """The resources the words name; a category (``all``, a plugin's) names every
    resource in it, as kubectl's category expander."""
    out: list[Resource] = []
    for word in words:
        for res in in_category(word) or [find_resource(word)]:
            if res not in out:
                out.append(res)
    return out


def in_category(word: str) -> list[Resource]:
    """The resources of category ``word`` (empty: it is none): navctl's registry, and
    the server's discovery for a word the registry knows nothing of, or ``all``
    (kubectl's, which lists custom resources too). Ordered as kubectl lists them: by
    group in the order served, then by name."""
    from navarch.cli.navctl.discovery import CURRENT
    from navarch.resources.registry import registry

    key = word.lower()
    served = list(registry())
    discovery = CURRENT.get()
    if discovery is not None and (key == "all" or registry().resolve(key) is None):
        served += [r for r in discovery if registry().get(r.group, r.version, r.plural) is None]
    members = [r for r in served if key in r.categories]
    groups = list(dict.fromkeys(r.group for r in served))
    return sorted(members, key=lambda r: (groups.index(r.group), r.plural))


def single_target(words: Sequence[str], verb: str) -> tuple[Resource, list[str]]:
    """TYPE NAME… or TYPE/NAME… of one type (label, annotate, scale, describe)."""
    targets = parse_targets(words)
    if len({t.res for t in targets}) != 1:
        raise CliError(f"{verb} takes objects of one resource type at a time")
    names = [n for t in targets for n in t.names]
    return targets[0].res, names


def list_params(args: argparse.Namespace) -> dict[str, str]:
    """The list query of ``-l`` and ``--field-selector`` (when the verb has them)."""
    params = {}
    if getattr(args, "selector", None):
        params["labelSelector"] = args.selector
    if getattr(args, "field_selector", None):
        params["fieldSelector"] = args.field_selector
    return params
