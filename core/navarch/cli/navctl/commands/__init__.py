"""navctl's commands: one module per verb (or family of verbs), each with a
``register(commands)`` function. Modules here are discovered by name.

A run imports only the module of the verb it was given (:func:`module_of`): a module
is named after its verb, or listed in :data:`MODULE_OF_VERB` when it holds several.
Command modules import what their verbs need inside the functions that need it, so
that ``navctl --help`` and ``navctl completion``, which import them all, stay quick.
"""

from __future__ import annotations

import importlib.util

# Verbs that live in a module named otherwise (tests/cli/test_navctl_startup.py checks
# that this table and what the modules register agree).
MODULE_OF_VERB = {
    "label": "metadata",
    "annotate": "metadata",
    "cordon": "nodes",
    "uncordon": "nodes",
    "drain": "nodes",
    "port-forward": "port_forward",
}


def module_of(verb: str) -> str | None:
    """The full name of the module that registers ``verb``; None when no module does
    (a typo: the whole parser then says which verbs exist)."""
    name = MODULE_OF_VERB.get(verb, verb)
    if not name.isidentifier() or name.startswith("_"):
        return None
    module = f"{__name__}.{name}"
    return module if importlib.util.find_spec(module) is not None else None
