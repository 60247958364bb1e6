"""Label selectors: the string form (``app=web,tier!=db,env in (a,b),!legacy``), the
structured form (``matchLabels`` + ``matchExpressions``) and matching.

Both forms become one :class:`Selector`, a conjunction of :class:`Requirement`.
Semantics follow Kubernetes: ``NotIn`` and ``!=`` match objects without the key;
``Gt``/``Lt`` compare integers and never match a missing or non-integer label; an
empty selector matches everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import attrs

from navarch.api import names

IN, NOT_IN, EXISTS, DOES_NOT_EXIST, GT, LT = "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"
LABEL_OPERATORS = (IN, NOT_IN, EXISTS, DOES_NOT_EXIST)
NODE_OPERATORS = (IN, NOT_IN, EXISTS, DOES_NOT_EXIST, GT, LT)


class SelectorError(ValueError):
    """A selector that cannot be parsed; the message points at the offending part."""


@attrs.frozen
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        if self.operator == IN:
            return present and labels[self.key] in self.values
        if self.operator == NOT_IN:
            return not present or labels[self.key] not in self.values
        if self.operator == EXISTS:
            return present
        if self.operator == DOES_NOT_EXIST:
            return not present
        if not present:
            return False
        try:
            have, bound = int(labels[self.key]), int(self.values[0])
        except ValueError:
            return False
        return have > bound if self.operator == GT else have < bound

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return f"!{self.key}"
        if self.operator in (GT, LT):
            return f"{self.key}{'>' if self.operator == GT else '<'}{self.values[0]}"
        if len(self.values) == 1:
            return f"{self.key}{'=' if self.operator == IN else '!='}{self.values[0]}"
        word = "in" if self.operator == IN else "notin"
        return f"{self.key} {word} ({','.join(self.values)})"


@attrs.frozen
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def is_empty(self) -> bool:
        return not self.requirements

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def from_match(
    match_labels: Mapping[str, str] | None,
    match_expressions: Iterable[tuple[str, str, Iterable[str]]] = (),
) -> Selector:
    """Build a selector from the structured form (expressions as (key, operator, values))."""
    requirements = [Requirement(k, IN, (v,)) for k, v in sorted((match_labels or {}).items())]
    requirements += [Requirement(k, op, tuple(vs)) for k, op, vs in match_expressions]
    return Selector(tuple(requirements))


_TOKEN = re.compile(r"\s*(?:(?P<op>==|!=|=|>|<|\(|\)|,|!)|(?P<word>[^\s=!<>(),]+))")


def parse(text: str) -> Selector:
    """Parse the string form; raises :class:`SelectorError` naming what is wrong."""
    tokens = _tokenize(text)
    requirements: list[Requirement] = []
    pos = 0

    def expect_word(what: str) -> str:
        nonlocal pos
        if pos >= len(tokens) or tokens[pos][0] != "word":
            found = tokens[pos][1] if pos < len(tokens) else "end of selector"
            raise SelectorError(f"selector {text!r}: expected {what}, found {found!r}")
        pos += 1
        return tokens[pos - 1][1]

    def at(*ops: str) -> bool:
        return pos < len(tokens) and tokens[pos][0] == "op" and tokens[pos][1] in ops

    while pos < len(tokens):
        if at("!"):
            pos += 1
            requirement = Requirement(expect_word("a label key after '!'"), DOES_NOT_EXIST)
        else:
            key = expect_word("a label key")
            if at("=", "==", "!="):
                op = tokens[pos][1]
                pos += 1
                value = _optional_value(tokens, pos)
                pos += 1 if value is not None else 0
                requirement = Requirement(key, NOT_IN if op == "!=" else IN, (value or "",))
            elif at(">", "<"):
                op = tokens[pos][1]
                pos += 1
                bound = expect_word(f"an integer after '{op}'")
                if not re.fullmatch(r"-?[0-9]+", bound):
                    raise SelectorError(
                        f"selector {text!r}: {bound!r} after {op!r} is not an integer"
                    )
                requirement = Requirement(key, GT if op == ">" else LT, (bound,))
            elif pos < len(tokens) and tokens[pos] in (("word", "in"), ("word", "notin")):
                operator = IN if tokens[pos][1] == "in" else NOT_IN
                pos += 1
                if not at("("):
                    raise SelectorError(
                        f"selector {text!r}: expected '(' after {tokens[pos - 1][1]!r}"
                    )
                pos += 1
                values: list[str] = []
                while not at(")"):
                    values.append(expect_word("a value or ')'"))
                    if at(","):
                        pos += 1
                    elif not at(")"):
                        raise SelectorError(f"selector {text!r}: expected ',' or ')' in value set")
                pos += 1
                requirement = Requirement(key, operator, tuple(values))
            else:
                requirement = Requirement(key, EXISTS)
        problems = validate_requirement(requirement)
        if problems:
            raise SelectorError(f"selector {text!r}: {'; '.join(problems)}")
        requirements.append(requirement)
        if pos < len(tokens):
            if not at(","):
                raise SelectorError(
                    f"selector {text!r}: expected ',' between requirements, "
                    f"found {tokens[pos][1]!r}"
                )
            pos += 1
            if pos == len(tokens):
                raise SelectorError(f"selector {text!r}: trailing ','")
    return Selector(tuple(requirements))


def validate_requirement(requirement: Requirement) -> list[str]:
    """Problems with one requirement (key and value syntax, value count per operator)."""
    problems = [f"key {requirement.key!r}: {p}" for p in names.qualified_name(requirement.key)]
    for value in requirement.values if requirement.operator not in (GT, LT) else ():
        problems += [f"value {value!r}: {p}" for p in names.label_value(value)]
    count = len(requirement.values)
    if requirement.operator in (IN, NOT_IN) and count == 0:
        problems.append(f"operator {requirement.operator} needs at least one value")
    if requirement.operator in (EXISTS, DOES_NOT_EXIST) and count:
        problems.append(f"operator {requirement.operator} takes no values")
    if requirement.operator in (GT, LT) and count != 1:
        problems.append(f"operator {requirement.operator} needs exactly one value")
    return problems


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise SelectorError(f"selector {text!r}: unexpected character at position {pos}")
        kind = "op" if match["op"] is not None else "word"
        tokens.append((kind, match[kind]))
        pos = match.end()
    return tokens


def _optional_value(tokens: list[tuple[str, str]], pos: int) -> str | None:
    """``key=`` with nothing after it selects the empty value, as in Kubernetes."""
    if pos < len(tokens) and tokens[pos][0] == "word":
        return tokens[pos][1]
    return None
