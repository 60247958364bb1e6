"""Hook contracts that hold: one async rule for awaited hooks, admission through pluggy,
plugin start-up errors that name the plugin, typed plugin options, typed hook specs."""

from __future__ import annotations

import ast
import importlib
import inspect
import typing
from pathlib import Path

import attrs
import pytest
from loguru import logger

from navarch import hookimpl, hookspecs
from navarch.admission import (
    CONNECT,
    CREATE,
    DELETE,
    UPDATE,
    AdmissionRequest,
    MutatorReturnedValue,
    admit,
    handles,
)
from navarch.api import InvalidObject, errors, load
from navarch.assembly import Assembly, UnresolvedParts, assemble
from navarch.config import load_config
from navarch.options import OptionsError
from navarch.plugins import PluginError, build_plugin_manager, call_all, call_first
from navarch.registry import UnknownName, collect

from .conftest import run_cli


def _pod(name: str = "web", labels: dict[str, str] | None = None):
    data = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "image": "127.0.0.1:5000/app:1"}]},
    }
    return load(data).obj


def _pm(*plugins: object):
    pm = build_plugin_manager(entry_points=False)
    for plugin in plugins:
        pm.register(plugin)
    return pm


def _labelled(obj, **labels: str):
    meta = obj.metadata
    return attrs.evolve(obj, metadata=attrs.evolve(meta, labels={**(meta.labels or {}), **labels}))


@pytest.fixture
def log_lines():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m.record["extra"]) + " " + m), level="DEBUG")
    logger.enable("navarch")
    yield lines
    logger.remove(sink)
    logger.disable("navarch")


# --- one async rule --------------------------------------------------------------------


class AsyncPass:
    calls = 0

    @hookimpl(tryfirst=True)
    async def navarch_bind(self, pod, node_name):
        type(self).calls += 1
        return None  # an awaitable resolving to None passes the call on


class SyncBinder:
    def __init__(self):
        self.bound: list[str] = []

    @hookimpl
    def navarch_bind(self, pod, node_name):
        self.bound.append(node_name)
        return True


async def test_an_awaitable_resolving_to_none_lets_the_next_implementation_run():
    # Before: pluggy stopped at the coroutine (not None), so SyncBinder never ran.
    binder, passer = SyncBinder(), AsyncPass()
    pm = _pm(binder, passer)
    assert await call_first(pm, "navarch_bind", pod=_pod(), node_name="n1", state=None) is True
    assert binder.bound == ["n1"]
    assert AsyncPass.calls >= 1


async def test_an_awaitable_resolving_to_a_value_ends_the_chain():
    class AsyncBinder:
        @hookimpl(tryfirst=True)
        async def navarch_bind(self):
            return True

    binder = SyncBinder()
    pm = _pm(binder, AsyncBinder())
    assert await call_first(pm, "navarch_bind", pod=_pod(), node_name="n1", state=None) is True
    assert binder.bound == []


async def test_call_first_with_no_taker_is_none_and_call_all_awaits_every_result():
    pm = _pm(AsyncPass())
    assert await call_first(pm, "navarch_bind", pod=_pod(), node_name="n", state=None) is None

    class Starts:
        def __init__(self, value):
            self.value = value

        @hookimpl
        async def navarch_startup(self, component):
            return f"{self.value}:{component}"

    pm = _pm(Starts("a"), Starts("b"))
    found = await call_all(pm, "navarch_startup", config=None, pm=pm, component="x")
    assert sorted(found) == ["a:x", "b:x"]


async def test_shutdown_runs_after_a_failed_run_and_its_errors_do_not_hide_the_cause():
    events: list[str] = []

    class Plugin:
        @hookimpl
        def navarch_startup(self, component):
            events.append(f"start {component}")

        @hookimpl
        async def navarch_shutdown(self, component):
            events.append(f"stop {component}")
            raise RuntimeError("clean-up failed")

    pm = _pm(Plugin())
    assembly = Assembly(load_config(file=None, env={}), pm, collect(pm))
    with pytest.raises(ValueError, match="the daemon broke"):
        async with assembly.running("apiserver"):
            raise ValueError("the daemon broke")
    assert events == ["start apiserver", "stop apiserver"]


# --- admission through pluggy ----------------------------------------------------------


class AddTeam:
    @hookimpl
    def navarch_admission_mutate(self, request):
        request.obj = _labelled(request.obj, team="web")


class AddTier:
    """Sees AddTeam's change: registered first, so pluggy calls it after AddTeam."""

    seen: list[str | None] = []

    @hookimpl
    def navarch_admission_mutate(self, request):
        type(self).seen.append(request.obj.labels.get("team"))
        request.obj = _labelled(request.obj, tier="front")


class Around:
    """A wrapper=True mutator: sees the object before and after the others."""

    @hookimpl(wrapper=True)
    def navarch_admission_mutate(self, request):
        before = dict(request.obj.labels)
        result = yield
        request.obj = _labelled(request.obj, wrapped=str(len(request.obj.labels) - len(before)))
        return result


def test_mutators_chain_each_seeing_the_previous_change():
    AddTier.seen.clear()
    pm = _pm(AddTier(), AddTeam())
    obj = admit(pm, AdmissionRequest(CREATE, "Pod", _pod()))
    assert obj.labels == {"team": "web", "tier": "front"}
    assert AddTier.seen == ["web"]


def test_a_wrapper_mutator_works():
    # Before: admit() called impl.function by hand, so a wrapper's generator became "obj".
    pm = _pm(AddTeam(), Around())
    obj = admit(pm, AdmissionRequest(CREATE, "Pod", _pod()))
    assert obj.labels == {"team": "web", "wrapped": "1"}


def test_tracing_sees_the_mutating_hook(log_lines):
    pm = build_plugin_manager(entry_points=False, trace=True)
    pm.register(AddTeam())
    admit(pm, AdmissionRequest(CREATE, "Pod", _pod()))
    assert any("navarch_admission_mutate" in line for line in log_lines)


def test_a_mutator_that_returns_the_object_is_told_to_assign_it():
    class Old:
        @hookimpl
        def navarch_admission_mutate(self, request):
            return _labelled(request.obj, team="web")

    with pytest.raises(MutatorReturnedValue, match=r"assign the changed copy to request\.obj"):
        admit(_pm(Old()), AdmissionRequest(CREATE, "Pod", _pod()))


def test_request_fields_are_read_only_except_obj_and_the_callers_request_is_untouched():
    request = AdmissionRequest(
        UPDATE, "Pod", _pod(), _pod(), user="alice", namespace="default", name="web"
    )
    with pytest.raises(attrs.exceptions.FrozenAttributeError):
        request.kind = "Node"
    admit(_pm(AddTeam()), request)
    assert "team" not in request.obj.labels
    with pytest.raises(ValueError, match="operation"):
        AdmissionRequest("PATCH", "Pod", _pod())


class Recorder:
    def __init__(self):
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    @handles(kinds=("Pod",), operations=(DELETE,))
    def navarch_admission_validate(self, request):
        self.seen.append((request.operation, request.kind))
        if request.obj.labels.get("protected"):
            return [errors.forbidden("metadata.labels", "protected pods cannot be deleted")]
        return None


def test_a_plugin_handles_only_the_kinds_and_operations_it_declares():
    recorder = Recorder()
    pm = _pm(recorder)
    admit(pm, AdmissionRequest(CREATE, "Pod", _pod()))
    admit(pm, AdmissionRequest(DELETE, "Service", None))
    stored = _pod(labels={"protected": "yes"})
    with pytest.raises(InvalidObject) as info:
        admit(pm, AdmissionRequest(DELETE, "Pod", stored, name="web", namespace="default"))
    assert [e.path for e in info.value.errors] == ["metadata.labels"]
    assert recorder.seen == [(DELETE, "Pod")]
    assert recorder.navarch_admission_validate.navarch_admission == (
        frozenset({"Pod"}),
        frozenset({DELETE}),
    )


def test_delete_and_connect_skip_mutation_and_the_core_model_checks():
    pm = _pm(AddTeam())
    broken = attrs.evolve(_pod(), spec=attrs.evolve(_pod().spec, containers=()))
    assert admit(pm, AdmissionRequest(DELETE, "Pod", broken)) is broken
    assert admit(pm, AdmissionRequest(CONNECT, "Pod", None, subresource="exec")) is None


def test_handles_rejects_unknown_operations_and_functions_without_request():
    with pytest.raises(ValueError, match="PATCH"):
        handles(operations=("PATCH",))
    with pytest.raises(TypeError, match="'request' parameter"):
        handles(kinds=("Pod",))(lambda obj: None)


# --- essential plugins, disabling, failing imports -----------------------------------


def test_disabling_a_name_that_is_not_installed_warns(log_lines, with_demo_plugin):
    # Before: pluggy's set_blocked made every blocked name look installed.
    build_plugin_manager(["nope", "demo"])
    warnings = [line for line in log_lines if "not installed" in line]
    assert len(warnings) == 1 and "'plugin': 'nope'" in warnings[0]


def _broken_plugin_site(tmp_path: Path) -> Path:
    """A distribution whose entry point fails to import, as a broken install would."""
    (tmp_path / "navarch_broken_plugin.py").write_text("import does_not_exist_anywhere\n")
    info = tmp_path / "navarch_broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: navarch-broken-plugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text("[navarch]\nbroken = navarch_broken_plugin\n")
    return tmp_path


def test_a_plugin_that_fails_to_import_is_named(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_broken_plugin_site(tmp_path)))
    importlib.invalidate_caches()
    with pytest.raises(PluginError) as info:
        build_plugin_manager()
    message = str(info.value)
    assert "plugin 'broken' (distribution navarch-broken-plugin)" in message
    assert "does_not_exist_anywhere" in message
    assert message.endswith("disable it with NAVARCH_DISABLE_PLUGINS=broken")
    pm = build_plugin_manager(["broken"])  # and the way out works
    assert pm.is_blocked("broken")


def test_cli_names_the_plugin_that_fails_to_import(tmp_path):
    result = run_cli("plugins", extra_path=_broken_plugin_site(tmp_path))
    assert result.returncode == 2
    assert "NAVARCH_DISABLE_PLUGINS=broken" in result.stderr
    assert "Traceback" not in result.stderr


# --- configuration of plugin parts -----------------------------------------------------


def test_config_check_passes_on_a_fresh_install():
    # the default runtime.name, containerd, is a plugin of the workspace
    result = run_cli("config", "check")
    assert result.returncode == 0, result.stderr
    assemble(load_config(file=None, env={})).check()


def test_an_unset_runtime_is_reported_to_the_daemon_that_needs_one():
    config = load_config(file=None, env={}, overrides=["runtime.name="])
    assembly = assemble(config, entry_points=False)
    with pytest.raises(UnknownName, match="no container runtime is configured"):
        assembly.runtime()


def test_hints_name_only_packages_that_exist():
    config = load_config(file=None, env={}, overrides=["store.name=nope", "runtime.name=rt"])
    with pytest.raises(UnresolvedParts) as info:
        assemble(config, entry_points=False).check(["store", "runtime"])
    text = str(info.value)
    assert "no store named 'nope'" in text and "no runtime named 'rt'" in text
    assert "pip install" not in text  # no navarch-store-nope, no navarch-runtime-rt
    config = load_config(file=None, env={}, overrides=["store.name=etcd"])
    with pytest.raises(UnresolvedParts, match=r"pip install navarch-store-etcd\)"):
        assemble(config, entry_points=False).check(["store"])


def test_store_options_are_type_checked_at_start_up():
    config = load_config(
        file=None, env={}, overrides=["store.options={map_size: big, history_minutes: -1}"]
    )
    with pytest.raises(UnresolvedParts) as info:
        assemble(config).check(["store"])
    [problem] = info.value.problems
    assert isinstance(problem, OptionsError)
    assert "store.options.map_size = 'big': must be an integer" in str(problem)


def test_config_check_cli_reports_bad_options_in_one_line():
    result = run_cli("--set", "store.options={map_sise: 1}", "config", "check")
    assert result.returncode == 2
    assert "store.options: unknown option(s) map_sise; known: map_size" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_reference_lists_the_options_plugins_declare():
    result = run_cli("config", "reference")
    assert result.returncode == 0, result.stderr
    assert "`store.options` of store `lmdb` (plugin `store-lmdb`)" in result.stdout
    assert "| `history_minutes` | float | `10.0` |" in result.stdout


# --- typed hook specifications -------------------------------------------------------


def _type_checking_imports() -> list[tuple[str, str]]:
    tree = ast.parse(Path(hookspecs.__file__).read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom)
                found += [(stmt.module, alias.name) for alias in stmt.names]
    return found


def test_the_type_checking_imports_of_the_hook_specs_exist():
    # Before: navarch.scheduling, which does not exist.
    names = {}
    for module, name in _type_checking_imports():
        names[name] = getattr(importlib.import_module(module), name)
    assert {"Pod", "NodeInfo", "CycleState", "AdmissionRequest"} <= set(names)
    namespace = {**vars(hookspecs), **names}
    for hook in (n for n in dir(hookspecs) if n.startswith("navarch_")):
        hints = typing.get_type_hints(getattr(hookspecs, hook), globalns=namespace)
        params = inspect.signature(getattr(hookspecs, hook)).parameters
        assert all(hints[p] is not typing.Any for p in params), hook
