"""Navarch's hook specifications: the whole contract between the core and its plugins.

Every function here is empty; its docstring is the contract. Hooks are always called
with keyword arguments. How results combine is stated per hook:

* *all results*: pluggy returns the list of every non-``None`` result, most recently
  registered plugin first;
* *first result*: the first non-``None`` result wins and later plugins are not called.

Where the core awaits a hook (marked *awaited* below) an implementation may be a
coroutine function or return any awaitable: the core awaits it before its result
counts, so an awaitable resolving to ``None`` passes a first-result call on to the
next implementation exactly like a plain ``None`` (``navarch.plugins.call_first`` /
``call_all``).

``docs/plugin-hooks.md`` documents each hook for plugin authors and must stay in step
with this module (a test checks that every hook below is documented and exercised).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from navarch.admission import AdmissionRequest
    from navarch.api.core_v1 import Pod
    from navarch.api.errors import FieldError
    from navarch.apiserver.auth import User
    from navarch.apiserver.authz import Decision
    from navarch.apiserver.fieldselectors import FieldSelector
    from navarch.apiserver.requestinfo import RequestInfo
    from navarch.config import Config
    from navarch.registry import (
        ControllerFactory,
        NetworkFactory,
        ProfileWeights,
        Register,
        RegisterResource,
        RuntimeFactory,
        StoreFactory,
    )
    from navarch.scheduler.framework import CycleState, ScoreResult
    from navarch.scheduler.nodeinfo import NodeInfo

PROJECT_NAME = "navarch"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


# --- life cycle ------------------------------------------------------------------------


@hookspec
def navarch_startup(
    config: Config, pm: pluggy.PluginManager, component: str
) -> Awaitable[None] | None:
    """A daemon is starting: open connections, start background tasks, check settings.

    Called once per daemon before it serves or schedules anything, inside its event
    loop. ``component`` names the daemon, one of ``navarch.components.COMPONENTS``:
    ``"apiserver"`` (``navarch server``), ``"scheduler"``, ``"controller-manager"``
    (``navarch controllers``) or ``"agent"`` (``navarch agent``, one call for all the
    nodes of a process), so a plugin can act in one only. A process may run several
    daemons: ``navarch up`` runs all four in one process, so a plugin gets one call per
    component there (three of them concurrently). ``config`` is the effective
    configuration, ``pm`` the plugin manager. An exception stops the daemon from
    starting. Results: all, *awaited*.
    """


@hookspec
def navarch_shutdown(
    config: Config, pm: pluggy.PluginManager, component: str
) -> Awaitable[None] | None:
    """A daemon is stopping (after a signal or an error): close what startup opened.

    Called once per ``navarch_startup`` call, after that daemon stopped serving, with
    the same arguments (``component`` included), also when start-up failed part way
    (so make it safe to call twice or without a start). An exception is logged and
    does not stop the daemon from exiting. Results: all, *awaited*.
    """


# --- storage -------------------------------------------------------------------------


@hookspec
def navarch_register_stores(register: Register[StoreFactory]) -> None:
    """Register store backends by name (etcd's role).

    Call ``register(name, factory, options=OptionsClass)`` once per backend.
    ``factory(options, data_dir)`` receives the ``store.options`` of the configuration,
    structured into ``OptionsClass`` (an attrs class; the core type-checks the values
    and ``navarch config reference`` lists them; without ``options=`` the raw mapping),
    and the node's data directory, and returns an object implementing the store
    contract. The
    configuration key ``store.name`` picks one backend; an unknown name is a start-up
    error listing the registered ones. Results: none (all implementations are called).
    """


# --- container runtimes ----------------------------------------------------------------


@hookspec
def navarch_register_runtimes(register: Register[RuntimeFactory]) -> None:
    """Register container runtimes by name (Docker, containerd, CRI-O …).

    Call ``register(name, factory, options=OptionsClass)`` once per runtime.
    ``factory(options, data_dir)`` receives ``runtime.options`` (structured into
    ``OptionsClass`` when given, as for stores) and returns an object implementing the
    runtime contract, :class:`navarch.runtime.Runtime` (or an awaitable of one).
    ``runtime.name`` in the configuration picks the node agent's. Results: none.
    """


# --- pod networks ----------------------------------------------------------------------


@hookspec
def navarch_register_networks(register: Register[NetworkFactory]) -> None:
    """Register pod network plugins by name (CNI's role: a pod's address and routes).

    Call ``register(name, factory, options=OptionsClass)`` once per network plugin.
    ``factory(options, data_dir)`` receives ``agent.network_options`` (structured into
    ``OptionsClass`` when given) and a directory of the node's own for the plugin's state
    (its result cache, its IP allocations), and returns an object implementing
    :class:`navarch.agent.network.NetworkPlugin`: ``start(context)``,
    ``setup(request)`` giving the pod's IPs, ``teardown(request)`` (must succeed when the
    pod's network namespace is already gone), ``result(sandbox_id)``, ``status()`` (the
    node's NetworkUnavailable condition), ``collect_garbage(live, listed_at)`` and
    ``close(for_good)``. ``agent.network`` in the configuration picks one; ``"none"``
    (the default) means no plugin: pods get loopback only. The agent calls it for a pod
    without ``hostNetwork`` whose sandbox has a network namespace and no address of its
    own. Results: none.
    """


# --- scheduling ------------------------------------------------------------------------


@hookspec
def navarch_register_scheduler_profiles(register: Register[ProfileWeights]) -> None:
    """Register named scheduler profiles.

    Call ``register(name, weights)`` where ``weights`` maps a score plugin's name to
    its integer weight (a plugin missing from the mapping is not consulted); a core
    filter's name (``node-name``, ``cordon``, ``node-affinity``, ``taints``,
    ``resources``) mapped to 0 turns that filter off. ``scheduler.profile`` in the
    configuration picks one. Results: none.
    """


@hookspec
def navarch_filter(
    pod: Pod, nodes: Sequence[NodeInfo], state: CycleState
) -> Mapping[str, str] | None:
    """Filter candidate nodes for one pod (the scheduling framework's Filter point).

    ``nodes`` are the candidates (NodeInfo objects: ``name``, ``labels``, ``taints``,
    allocatable and requested sums, the Node itself as ``node``); return a mapping ``node name ->
    reason`` for each node this plugin rejects (the reason is short and human, e.g.
    ``"Insufficient cpu"``; reasons are counted into the pod's Unschedulable
    message), or ``None``/``{}`` to reject nothing. Nodes are passed in a batch so a
    plugin can work over all of them at once. ``state`` is per-cycle scratch space,
    keyed by plugin name; ``state.runs_filter(name)`` says whether the profile turned a
    filter off. Results: all; a node survives only if no plugin rejects it.
    """


@hookspec
def navarch_score(
    pod: Pod, nodes: Sequence[NodeInfo], state: CycleState
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
def navarch_bind(
    pod: Pod, node_name: str, state: CycleState
) -> Awaitable[bool | None] | bool | None:
    """Bind a pod to the chosen node (the Bind point).

    Return ``True`` once the binding is done, or ``None`` to let the next plugin (and
    finally the core's default binder, which posts a ``Binding``) do it; a coroutine
    function resolving to either works the same way. Results: first result, *awaited*.
    """


# --- control loops ---------------------------------------------------------------------


@hookspec
def navarch_register_controllers(register: Register[ControllerFactory]) -> None:
    """Register control loops (replicas, rollouts, node lifecycle, garbage collection …).

    Call ``register(name, factory, options=Cls)``; ``factory(context)`` receives a
    :class:`navarch.controllers.ControllerContext` (client, shared informers, a
    work-queue factory, an event recorder, its options from ``controllers.options``
    structured into ``Cls``, a bound logger) and returns a controller whose ``run()``
    coroutine reconciles until cancelled (:class:`navarch.controllers.QueueController`
    gives the usual shape). A ``run()`` that fails or returns is called again on the
    same controller after a back-off, so it must leave the controller able to run
    again. The core's own controllers register through this hook
    too. ``controllers.enabled`` lists which run (``"*"`` for every registered one).
    Results: none.
    """


@hookspec
def navarch_register_resources(register: RegisterResource) -> None:
    """Register kinds the API server serves (Kubernetes' generic registry).

    Call ``register(resource)`` with a :class:`navarch.resources.Resource` per kind:
    group, version, kind, plural, scope, short names, categories, the attrs model
    (``Resource.for_model(Model, ...)`` reads them from it) or an OpenAPI schema, the
    strategy (:class:`navarch.resources.Strategy`: status, generation, update and delete
    rules), subresources, selectable fields and the Table printer. The kind then gets
    CRUD, watch, Table, discovery and OpenAPI with no change in the core, and the
    client and navctl resolve it (``client.resource("backups")``). The core's own kinds
    come in through this hook too (``navarch.resources.core.plugin``). A resource,
    kind (in one group) or short name registered by two plugins is a start-up error
    naming both; the same spec again from the same plugin is ignored. Called once per
    process start-up, before the API server builds its routes. Results: none.
    """


# --- authentication and authorisation ------------------------------------------------


@hookspec(firstresult=True)
def navarch_authenticate(headers: Mapping[str, str]) -> User | Awaitable[User | None] | None:
    """Say who sent an API request, from its HTTP headers (*first result*, *awaited*).

    Return a ``navarch.apiserver.auth.User(name, groups)`` for credentials this plugin
    recognises, or ``None`` to let the next authenticator try. The core's bearer-token
    authenticator (the token file) runs last; a request no authenticator recognises is
    answered 401. Roles come from groups: ``system:masters`` (admin),
    ``navarch:viewers`` (viewer), ``system:nodes`` with user ``system:node:<name>``
    (node). Called once per request, before authorisation: keep it fast.
    """


@hookspec(firstresult=True)
def navarch_authorize(
    user: User, info: RequestInfo, field_selector: FieldSelector | None
) -> Decision | Awaitable[Decision | None] | None:
    """Decide whether ``user`` may make the request described by ``info`` (*first
    result*, *awaited*).

    ``info`` (``navarch.apiserver.requestinfo.RequestInfo``) is the request parsed once:
    ``verb`` (get, list, watch, create, update, patch, delete, deletecollection),
    ``group``, ``version``, ``plural``, ``namespace``, ``name``, ``subresource``;
    ``field_selector`` is the request's parsed field selector on list, watch and
    deletecollection (else ``None``). Return ``Decision.allow()`` or
    ``Decision.deny(reason)`` (``navarch.apiserver.authz.Decision``) to decide, or
    ``None`` for no opinion. The core's role authoriser (admin, viewer, node) runs last
    and always decides. A denial is answered 403 with the reason. Only resource
    requests are authorised here; what a node may change on its own objects is
    admission's job (NodeRestriction).
    """


# --- admission -------------------------------------------------------------------------


@hookspec
def navarch_admission_mutate(request: AdmissionRequest) -> None:
    """Mutate an object before it is validated and stored (CREATE and UPDATE only).

    ``request`` (``navarch.admission.AdmissionRequest``) carries ``operation``, ``kind``,
    ``obj`` (the object as the previous mutating plugins left it), ``old`` on update,
    ``user``, ``namespace``, ``name``, ``subresource`` and ``dry_run``. To change the
    object, assign a changed copy to ``request.obj`` (the model classes are frozen: use
    ``attrs.evolve``); return nothing (a returned value is an error). Plugins run in
    pluggy's call order, each seeing the previous one's result; ``wrapper=True``
    implementations see ``request.obj`` before and after the others.
    ``@navarch.admission.handles(kinds=..., operations=...)`` narrows an
    implementation. Results: none (the change is ``request.obj``).
    """


@hookspec
def navarch_admission_validate(request: AdmissionRequest) -> Sequence[FieldError] | None:
    """Validate a write before it reaches the store (every operation: CREATE, UPDATE,
    DELETE, CONNECT; see ``AdmissionRequest`` for what ``obj`` is in each).

    Return the field errors found (each with a path, a reason and a message) or
    ``None``. Every plugin runs; all errors are reported together as one 422 Invalid
    ``Status``. ``@navarch.admission.handles(kinds=..., operations=...)`` narrows an
    implementation; without it, it sees every kind and operation. Results: all.
    """
