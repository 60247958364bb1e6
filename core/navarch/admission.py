"""Admission: the checks every created or updated object passes before it is stored.

The object model's own validation is the first validating admission plugin (this
module registers it like any other plugin); plugins add policy through the
``navarch_admission_mutate`` and ``navarch_admission_validate`` hooks.
"""

from __future__ import annotations

from typing import Any

import attrs
import pluggy

from navarch import hookimpl
from navarch.api.errors import FieldError, InvalidObject
from navarch.api.meta import TopLevel
from navarch.api.validation import validate

CREATE, UPDATE = "CREATE", "UPDATE"


@attrs.frozen
class AdmissionRequest:
    operation: str
    kind: str
    obj: Any
    old: Any = None


@hookimpl
def navarch_admission_validate(request: AdmissionRequest) -> list[FieldError] | None:
    if isinstance(request.obj, TopLevel):
        return validate(request.obj)
    return None


def admit(pm: pluggy.PluginManager, request: AdmissionRequest) -> Any:
    """Run every mutating hook in turn, then every validating hook; return the object
    to store or raise :class:`InvalidObject` with all errors from all plugins."""
    obj = request.obj
    # Chained by hand (pluggy would give every plugin the same input); the order is
    # pluggy's own call order.
    for impl in reversed(pm.hook.navarch_admission_mutate.get_hookimpls()):
        changed = impl.function(request=attrs.evolve(request, obj=obj))
        if changed is not None:
            obj = changed
    final = attrs.evolve(request, obj=obj)
    found: list[FieldError] = []
    seen: set[FieldError] = set()
    for problems in pm.hook.navarch_admission_validate(request=final):
        for problem in problems:
            if problem not in seen:
                seen.add(problem)
                found.append(problem)
    if found:
        name = obj.name if isinstance(obj, TopLevel) else None
        raise InvalidObject(request.kind, name, found)
    return obj
