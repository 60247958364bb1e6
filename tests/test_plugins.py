"""The plugin system: discovery of a third-party distribution, listing, disabling,
tracing, registries, and one parametrised test that keeps every hook documented and
exercised."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import attrs
import pytest
from loguru import logger

from navarch import hookspecs
from navarch.admission import CREATE, AdmissionRequest, admit
from navarch.api import InvalidObject, load
from navarch.apiserver import auth, authz, requestinfo
from navarch.apiserver.errors import ApiError
from navarch.assembly import Assembly, UnresolvedParts, assemble
from navarch.config import load_config
from navarch.plugins import (
    DEFAULT_PLUGINS,
    ESSENTIAL_PLUGINS,
    PluginError,
    build_plugin_manager,
    hook_names,
)
from navarch.registry import DuplicateName, Registry, UnknownName, collect
from navarch.scheduler import CycleState, ScoreResult
from navarch.scheduler.nodeinfo import NodeInfo

from .conftest import run_cli

DOCS = Path(__file__).parent.parent / "docs" / "plugin-hooks.md"


def _pod(name: str = "web", labels: dict[str, str] | None = None):
    data = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "image": "127.0.0.1:5000/app:1"}]},
    }
    return load(data).obj


def _node(name: str, labels: dict[str, str] | None = None) -> NodeInfo:
    data = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels or {}},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
    }
    return NodeInfo.of(load(data).obj)


# --- discovery, listing, disabling ---------------------------------------------------


def test_cli_lists_third_party_plugin_with_distribution_version_and_hooks(demo_plugin_site):
    result = run_cli("plugins", "-o", "json", extra_path=demo_plugin_site)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    demo = rows["demo"]
    assert demo["distribution"] == "navarch-demo-plugin"
    assert demo["version"] == "1.2.3"
    assert str(demo_plugin_site) in demo["source"]
    assert demo["hooks"] == hook_names()  # it implements every hook
    assert "store demo-memory" in demo["provides"]
    assert rows["navarch.admission"]["distribution"] == "navarch"


def test_cli_table_output_names_plugin(demo_plugin_site):
    result = run_cli("plugins", extra_path=demo_plugin_site)
    assert result.returncode == 0, result.stderr
    assert "demo  (navarch-demo-plugin 1.2.3)" in result.stdout
    assert "provides: store demo-memory" in result.stdout


def test_disable_env_var_removes_plugin(demo_plugin_site):
    result = run_cli(
        "plugins",
        "-o",
        "json",
        extra_path=demo_plugin_site,
        env={"NAVARCH_DISABLE_PLUGINS": "demo"},
    )
    assert result.returncode == 0, result.stderr
    names = [row["name"] for row in json.loads(result.stdout)]
    assert "demo" not in names
    assert "navarch.admission" in names


def test_disabled_plugin_hooks_are_not_called(with_demo_plugin):
    pm = build_plugin_manager(["demo"])
    results = pm.hook.navarch_score(pod=_pod(), nodes=[_node("a")], state=CycleState())
    assert not any(getattr(r, "plugin", None) == "demo-score" for r in results)
    assert "demo-memory" not in collect(pm).stores.names()


def test_core_defaults_can_be_disabled_except_the_essential_ones():
    optional = [name for name in DEFAULT_PLUGINS if name not in ESSENTIAL_PLUGINS]
    pm = build_plugin_manager(optional, entry_points=False)
    assert {name for name, plugin in pm.list_name_plugin() if plugin} == set(ESSENTIAL_PLUGINS)


def test_core_validation_cannot_be_disabled():
    # Disabling navarch.admission used to turn off every check of every object.
    with pytest.raises(PluginError, match=r"navarch.admission is essential.*cannot be disabled"):
        build_plugin_manager(["navarch.admission"], entry_points=False)
    result = run_cli("plugins", env={"NAVARCH_DISABLE_PLUGINS": "navarch.admission"})
    assert result.returncode == 2
    assert "cannot be disabled" in result.stderr and "Traceback" not in result.stderr


def test_trace_env_var_logs_hook_calls(with_demo_plugin):
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG", format="{message}")
    logger.enable("navarch")
    try:
        pm = build_plugin_manager(trace=True)
        pm.hook.navarch_score(pod=_pod(), nodes=[_node("a")], state=CycleState())
    finally:
        logger.remove(sink)
        logger.disable("navarch")
    assert any("navarch_score" in line for line in lines)


def test_unknown_store_name_lists_installed_ones(demo_plugin_site):
    result = run_cli("--set", "store.name=nope", "config", "check", extra_path=demo_plugin_site)
    assert result.returncode == 2
    assert "store.name: no store named 'nope' is installed" in result.stderr
    assert "installed stores: demo-memory" in result.stderr
    assert "Traceback" not in result.stderr


def test_assembly_resolves_configured_names(with_demo_plugin):
    config = load_config(
        file=None,
        env={},
        overrides=[
            "store.name=demo-memory",
            "runtime.name=demo-echo",
            "scheduler.profile=demo-profile",
            "controllers.enabled=demo-noop",
        ],
    )
    assembly = assemble(config)
    assembly.check()
    assert assembly.store().plugin == "demo"
    assert assembly.scheduler_profile().value == {"demo-score": 2}
    assert [c.name for c in assembly.controllers()] == ["demo-noop"]


def test_assembly_reports_every_unknown_name_at_once(with_demo_plugin):
    config = load_config(file=None, env={}, overrides=["store.name=x", "runtime.name=y"])
    with pytest.raises(UnresolvedParts) as info:
        assemble(config).check(["store", "runtime"])
    assert [p.config_key for p in info.value.problems] == ["store.name", "runtime.name"]


def test_registry_rejects_duplicate_names():
    registry = Registry("store", "store.name")
    registry.add("x", object, plugin="one")
    with pytest.raises(DuplicateName, match="'one' and plugin 'two'"):
        registry.add("x", object, plugin="two")
    with pytest.raises(UnknownName, match="installed stores: x"):
        registry.get("y")


# --- every hook: documented and exercised --------------------------------------------


def _exercise_register_stores(pm):
    store = collect(pm).stores.get("demo-memory")({"a": 1}, "/data")
    assert (store.options, store.data_dir) == ({"a": 1}, "/data")


def _exercise_register_runtimes(pm):
    entry = collect(pm).runtimes.entry("demo-echo")
    assert entry.plugin == "demo"
    runtime = entry.value({"greeting": "hi"}, "/d")
    assert (runtime.data_dir, runtime.options.greeting) == ("/d", "hi")  # typed options


def _exercise_register_networks(pm):
    from navarch.agent.network import NetworkPlugin, PodNetworkRequest

    entry = collect(pm).networks.entry("demo-fixed")
    assert entry.plugin == "demo"
    network = entry.value({"ip": "10.99.0.7"}, "/d")
    assert isinstance(network, NetworkPlugin)
    request = PodNetworkRequest("ns", "p", "uid", "sandbox", "/run/netns/x")
    assert asyncio.run(network.setup(request)).ips == ("10.99.0.7",)
    assembly = Assembly(
        load_config(file=None, env={"NAVARCH_AGENT_NETWORK": "demo-fixed"}), pm, collect(pm)
    )
    assert assembly.network() is not None and assembly.network().name == "demo-fixed"


def _exercise_register_scheduler_profiles(pm):
    assert collect(pm).scheduler_profiles.get("demo-profile") == {"demo-score": 2}


def _exercise_register_controllers(pm):
    from navarch.testing.controllers import FakeCluster

    context = FakeCluster().context("demo-noop", options={"x": 1})
    controller = collect(pm).controllers.get("demo-noop")(context)
    assert controller.context.options == {"x": 1} and controller.context.name == "demo-noop"


def _exercise_register_resources(pm):
    from navarch.apiserver import discovery, openapi
    from navarch.resources import ResourceClash, ResourceRegistry

    resources = collect(pm).resources
    gadgets = resources.resolve("gd")
    assert gadgets is not None and resources.plugin_of(gadgets) == "demo"
    assert resources.plugin_of(resources.resolve("pods")) == "navarch.resources.core.plugin"
    info = requestinfo.parse("GET", "/apis/demo.example.com/v1/namespaces/a/gadgets/g", {})
    assert info.res is gadgets and info.verb == "get"
    served = discovery.resource_list("demo.example.com", "v1")["resources"]
    assert served[0]["name"] == "gadgets" and served[0]["shortNames"] == ["gd"]
    assert openapi.document("demo.example.com", "v1") is not None
    # a clash names both plugins
    other = ResourceRegistry()
    other.add(gadgets, plugin="demo")
    with pytest.raises(ResourceClash, match=r"'demo'.*'copycat'"):
        other.add(attrs.evolve(gadgets, plural="widgets"), plugin="copycat")


def _exercise_filter(pm):
    nodes = [_node("a"), _node("b", {"demo.example.com/reject": "yes"})]
    results = pm.hook.navarch_filter(pod=_pod(), nodes=nodes, state=CycleState())
    assert {"b": "node is labelled reject"} in results  # beside the core's own filters' verdict
    assert {} in results


def _exercise_score(pm):
    results = pm.hook.navarch_score(
        pod=_pod(), nodes=[_node("a"), _node("bbb")], state=CycleState()
    )
    assert ScoreResult("demo-score", {"a": 99, "bbb": 97}) in results


def _exercise_bind(pm):
    import navarch_demo_plugin

    assert pm.hook.navarch_bind(pod=_pod("p1"), node_name="a", state=CycleState()) is True
    assert navarch_demo_plugin.BOUND[-1] == ("p1", "a")


def _exercise_admission_mutate(pm):
    obj = admit(pm, AdmissionRequest(CREATE, "Pod", _pod()))
    assert obj.labels["demo.example.com/admitted"] == "true"


def _exercise_lifecycle(pm):
    import navarch_demo_plugin

    navarch_demo_plugin.LIFECYCLE.clear()
    assembly = Assembly(load_config(file=None, env={}), pm, collect(pm))

    async def daemon():
        async with assembly.running("scheduler"):
            navarch_demo_plugin.LIFECYCLE.append(("running", "scheduler"))

    asyncio.run(daemon())
    assert navarch_demo_plugin.LIFECYCLE == [
        ("startup", "scheduler"),  # a coroutine function: awaited
        ("running", "scheduler"),
        ("shutdown", "scheduler"),
    ]


def _exercise_admission_validate(pm):
    # The plugin's policy error and the core's own validation error come back together.
    bad = _pod(labels={"demo.example.com/forbidden": "1"})
    bad = type(bad)(**{**_fields(bad), "spec": type(bad.spec)(containers=())})
    with pytest.raises(InvalidObject) as info:
        admit(pm, AdmissionRequest(CREATE, "Pod", bad))
    paths = [e.path for e in info.value.errors]
    assert "metadata.labels" in paths
    assert "spec.containers" in paths


def _exercise_authenticate(pm):
    user = asyncio.run(auth.authenticate(pm, {"X-Demo-User": "carol"}))
    assert (user.name, user.role) == ("carol", "viewer")
    with pytest.raises(ApiError) as info:  # nobody recognises it: 401
        asyncio.run(auth.authenticate(pm, {"Authorization": "Bearer nope"}))
    assert info.value.code == 401


def _exercise_authorize(pm):
    admin = auth.User("root", ("system:masters",))
    protected = requestinfo.parse("DELETE", "/api/v1/namespaces/demo-protected", {})
    with pytest.raises(ApiError) as info:  # the plugin refuses even an admin
        asyncio.run(authz.authorize(pm, admin, protected, None))
    assert info.value.code == 403 and "protected by the demo" in info.value.message
    other = requestinfo.parse("DELETE", "/api/v1/namespaces/scratch", {})
    asyncio.run(authz.authorize(pm, admin, other, None))  # no opinion: the roles allow
    viewer = auth.User("carol", ("navarch:viewers",))
    with pytest.raises(ApiError):  # no opinion: the roles refuse
        asyncio.run(authz.authorize(pm, viewer, other, None))


def _fields(obj):
    return {a: getattr(obj, a) for a in ("api_version", "kind", "metadata", "status")}


EXERCISES = {
    "navarch_register_stores": _exercise_register_stores,
    "navarch_register_runtimes": _exercise_register_runtimes,
    "navarch_register_networks": _exercise_register_networks,
    "navarch_register_scheduler_profiles": _exercise_register_scheduler_profiles,
    "navarch_register_controllers": _exercise_register_controllers,
    "navarch_register_resources": _exercise_register_resources,
    "navarch_filter": _exercise_filter,
    "navarch_score": _exercise_score,
    "navarch_bind": _exercise_bind,
    "navarch_admission_mutate": _exercise_admission_mutate,
    "navarch_admission_validate": _exercise_admission_validate,
    "navarch_authenticate": _exercise_authenticate,
    "navarch_authorize": _exercise_authorize,
    "navarch_startup": _exercise_lifecycle,
    "navarch_shutdown": _exercise_lifecycle,
}


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_documented_and_exercised(hook, with_demo_plugin):
    spec = getattr(hookspecs, hook)
    assert spec.__doc__ and len(spec.__doc__.strip()) > 80, f"{hook} needs a docstring contract"
    assert re.search(rf"^## `{hook}`", DOCS.read_text(), re.MULTILINE), (
        f"{hook} is not documented in docs/plugin-hooks.md"
    )
    assert hook in EXERCISES, f"{hook} has no exercise in this test module"
    pm = build_plugin_manager()
    assert "demo" in {name for name, _ in pm.list_name_plugin()}
    EXERCISES[hook](pm)


def test_exercises_cover_no_removed_hooks():
    assert set(EXERCISES) == set(hook_names())
