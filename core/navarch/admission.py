"""Admission: the checks every write passes before it reaches the store.

The object model's own validation is the first validating admission plugin (this
module registers it like any other plugin, and it is essential: it cannot be
disabled); plugins add policy through the ``navarch_admission_mutate`` and
``navarch_admission_validate`` hooks, optionally narrowed with :func:`handles`.

Both hooks are ordinary pluggy calls, so tracing, ``tryfirst``/``trylast`` and
``wrapper=True`` implementations work as for every other hook. Mutating plugins are
chained the way pluggy chains in-place changes (pytest's
``pytest_collection_modifyitems``): each one reads ``request.obj`` and assigns a
changed copy to it, so the next one sees the previous one's result. A chain by return
value cannot go through pluggy, which hands every implementation the same arguments.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import attrs
import pluggy

from navarch import hookimpl
from navarch.api.errors import FieldError, InvalidObject
from navarch.api.meta import TopLevel
from navarch.api.validation import validate

CREATE, UPDATE, DELETE, CONNECT = "CREATE", "UPDATE", "DELETE", "CONNECT"
OPERATIONS = (CREATE, UPDATE, DELETE, CONNECT)
# Operations that carry a new object to mutate and to validate against the model.
WRITES = (CREATE, UPDATE)

F = TypeVar("F", bound=Callable[..., Any])


@attrs.define(on_setattr=attrs.setters.frozen)
class AdmissionRequest:
    """One write on its way to the store, as admission plugins see it.

    ``obj`` is the new object on CREATE and UPDATE, the stored object being deleted on
    DELETE, and the subresource's options (or ``None``) on CONNECT; ``old`` is the
    stored object on UPDATE, else ``None``. ``user`` is the authenticated user (``name``,
    ``groups``), ``subresource`` e.g. ``"status"`` or ``"exec"``, and ``dry_run`` says the
    result will not be stored (a plugin must then have no side effects).

    Only ``obj`` may be assigned, and only by a mutating plugin; every other field is
    read-only.
    """

    operation: str = attrs.field(validator=attrs.validators.in_(OPERATIONS))
    kind: str
    obj: Any = attrs.field(on_setattr=attrs.setters.NO_OP)
    old: Any = None
    user: Any = attrs.field(default=None, kw_only=True)
    namespace: str = attrs.field(default="", kw_only=True)
    name: str = attrs.field(default="", kw_only=True)
    subresource: str | None = attrs.field(default=None, kw_only=True)
    dry_run: bool = attrs.field(default=False, kw_only=True)


def handles(*, kinds: Iterable[str] = (), operations: Iterable[str] = ()) -> Callable[[F], F]:
    """Narrow an admission hook implementation to some kinds and operations.

    Put it under ``@hookimpl``; an empty ``kinds`` or ``operations`` means all. For other
    requests the implementation is not run (a wrapper just passes the call on). The
    declaration stays readable as ``func.navarch_admission = (kinds, operations)``.
    """
    wanted_kinds, wanted_ops = frozenset(kinds), frozenset(operations)
    unknown = sorted(wanted_ops - set(OPERATIONS))
    if unknown:
        raise ValueError(f"unknown admission operation(s) {unknown}; known: {list(OPERATIONS)}")

    def applies(request: AdmissionRequest) -> bool:
        return (not wanted_kinds or request.kind in wanted_kinds) and (
            not wanted_ops or request.operation in wanted_ops
        )

    def decorate(func: F) -> F:
        params = list(inspect.signature(func).parameters)
        if "request" not in params:
            raise TypeError(f"{func.__qualname__}: an admission hook takes a 'request' parameter")
        at = params.index("request")  # pluggy passes the hook's arguments by position

        if inspect.isgeneratorfunction(func):  # a wrapper=True implementation

            @functools.wraps(func)
            def wrapper(*args: Any) -> Any:
                if applies(args[at]):
                    return (yield from func(*args))
                return (yield)

            chosen: Callable[..., Any] = wrapper
        else:

            @functools.wraps(func)
            def implementation(*args: Any) -> Any:
                return func(*args) if applies(args[at]) else None

            chosen = implementation
        # mypy knows no attributes on a function, nor that wraps() made ``chosen`` an F
        chosen.navarch_admission = (wanted_kinds, wanted_ops)  # type: ignore[attr-defined]
        return chosen  # type: ignore[return-value]

    return decorate


@hookimpl
@handles(operations=WRITES)
def navarch_admission_validate(request: AdmissionRequest) -> list[FieldError] | None:
    if isinstance(request.obj, TopLevel):
        return validate(request.obj)
    return None


class MutatorReturnedValue(TypeError):
    """A mutating plugin returned the object instead of assigning ``request.obj``."""


def admit(pm: pluggy.PluginManager, request: AdmissionRequest) -> Any:
    """Run the mutating hook, then the validating hook; return the object to store or
    raise :class:`InvalidObject` with every error from every plugin.

    Mutation runs on CREATE and UPDATE only (there is no new object otherwise);
    validation runs on every operation."""
    request = attrs.evolve(request)  # plugins change this copy, never the caller's
    if request.operation in WRITES:
        returned = pm.hook.navarch_admission_mutate(request=request)
        if returned:
            raise MutatorReturnedValue(
                "a navarch_admission_mutate implementation returned a value: assign the "
                "changed copy to request.obj instead (see docs/plugin-hooks.md)"
            )
    obj = request.obj
    # Validators get their own copy: an assignment there must not change what is stored.
    found: list[FieldError] = []
    seen: set[FieldError] = set()
    for problems in pm.hook.navarch_admission_validate(request=attrs.evolve(request)):
        for problem in problems:
            if problem not in seen:
                seen.add(problem)
                found.append(problem)
    if found:
        name = obj.name if isinstance(obj, TopLevel) else (request.name or None)
        raise InvalidObject(request.kind, name, found)
    return obj
