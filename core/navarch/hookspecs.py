"""Navarch's hook specifications: the whole contract between the core and its plugins.

Every function here is empty; its docstring is the contract. Hooks are always called
with keyword arguments. How results combine is stated per hook:

* *all results*: pluggy returns the list of every non-``None`` result, most recently
  registered plugin first;
* *first result*: the first non-``None`` result wins and later plugins are not called.

``docs/plugin-hooks.md`` documents each hook for plugin authors and must stay in step
with this module (a test checks that every hook below is documented and exercised).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from navarch.admission import AdmissionRequest
    from navarch.api.errors import FieldError
    from navarch.scheduling import CycleState, ScoreResult

PROJECT_NAME = "navarch"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)

# A ``register`` callable handed to the registration hooks: ``register(name, factory)``.
Register = Callable[..., None]


# --- storage -------------------------------------------------------------------------


@hookspec
def navarch_register_stores(register: Register) -> None:
    """Register store backends by name (etcd's role).

    Call ``register(name, factory)`` once per backend. ``factory(options, data_dir)``
    receives the ``store.options`` mapping from the configuration and the node's data
    directory, and returns an object implementing the store contract. The
    configuration key ``store.name`` picks one backend; an unknown name is a start-up
    error listing the registered ones. Results: none (all implementations are called).
    """


# --- container runtimes ----------------------------------------------------------------


@hookspec
def navarch_register_runtimes(register: Register) -> None:
    """Register container runtimes by name (Docker, containerd, CRI-O …).

    Call ``register(name, factory)`` once per runtime. ``factory(options, data_dir)``
    receives the ``runtime.options`` mapping and returns an object implementing the
    runtime contract. ``runtime.name`` in the configuration picks one. Results: none.
    """


# --- scheduling ------------------------------------------------------------------------


@hookspec
def navarch_register_scheduler_profiles(register: Register) -> None:
    """Register named scheduler profiles.

    Call ``register(name, weights)`` where ``weights`` maps a score plugin's name to
    its integer weight (a plugin missing from the mapping is not consulted).
    ``scheduler.profile`` in the configuration picks one. Results: none.
    """


@hookspec
def navarch_filter(pod: Any, nodes: Sequence[Any], state: CycleState) -> Mapping[str, str] | None:
    """Filter candidate nodes for one pod (the scheduling framework's Filter point).

    ``nodes`` are the candidates (NodeInfo objects: ``name``, ``labels``, ``taints``,
    allocatable and requested sums, the Node itself as ``node``); return a mapping ``node name ->
    reason`` for each node this plugin rejects (the reason is short and human, e.g.
    ``"Insufficient cpu"``; reasons are counted into the pod's Unschedulable
    message), or ``None``/``{}`` to reject nothing. Nodes are passed in a batch so a
    plugin can work over all of them at once. ``state`` is per-cycle scratch space,
    keyed by plugin name. Results: all; a node survives only if no plugin rejects it.
    """


@hookspec
def navarch_score(
    pod: Any, nodes: Sequence[Any], state: CycleState
) -> ScoreResult | Sequence[ScoreResult] | None:
    """Score the feasible nodes for one pod (the Score point).

    Return ``ScoreResult(plugin=name, scores={node name: 0..100})`` (or a list of them,
    when one module provides several scores) or ``None`` to abstain. The framework
    multiplies each score by the weight the active profile gives its ``plugin``
    (scores the profile does not name are ignored) and picks the node with the highest
    total, at random among equals. ``nodes`` are NodeInfo objects: the Node plus what
    is already requested of it. Results: all.
    """


@hookspec(firstresult=True)
def navarch_bind(pod: Any, node_name: str, state: CycleState) -> bool | None:
    """Bind a pod to the chosen node (the Bind point).

    Return ``True`` once the binding is done (or an awaitable resolving to it), or
    ``None`` to let the next plugin (and finally the core's default binder, which posts
    a ``Binding``) do it. Results: first result.
    """


# --- control loops ---------------------------------------------------------------------


@hookspec
def navarch_register_controllers(register: Register) -> None:
    """Register control loops (replicas, rollouts, node lifecycle, garbage collection …).

    Call ``register(name, factory)``; ``factory(client, options)`` returns a controller
    whose ``run()`` coroutine reconciles until cancelled. ``controllers.enabled`` in
    the configuration lists which run (``"*"`` for every registered one). Results:
    none.
    """


# --- admission -------------------------------------------------------------------------


@hookspec
def navarch_admission_mutate(request: AdmissionRequest) -> Any | None:
    """Mutate an object before it is validated and stored (create and update).

    ``request`` carries ``operation`` (``"CREATE"``/``"UPDATE"``), ``kind``, the new
    ``obj`` and, on update, ``old``. Return a changed copy of ``request.obj`` (the
    model classes are frozen: use ``attrs.evolve``) or ``None`` to leave it. Plugins
    run in turn, each seeing the previous one's result. Results: all (chained by the
    core).
    """


@hookspec
def navarch_admission_validate(request: AdmissionRequest) -> Sequence[FieldError] | None:
    """Validate an object before it is stored (create and update).

    Return the field errors found (each with a path, a reason and a message) or
    ``None``. Every plugin runs; all errors are reported together as one 422 Invalid
    ``Status``. Results: all.
    """
