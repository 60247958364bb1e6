"""One core filter per concern: a profile (or ``scheduler.weights``) sets a filter's name
to 0 to turn it off; the others keep working, and the inline fast path stays correct."""

from __future__ import annotations

import importlib

import pytest

from navarch.plugins import build_plugin_manager
from navarch.scheduler import framework
from navarch.scheduler.filters import FILTER_NAMES, navarch_filter
from navarch.scheduler.framework import CycleState
from tests.scheduler.test_filters_and_scores import node, pod

TAINTED = [{"key": "gpu", "value": "true", "effect": "NoSchedule"}]


def run(p, nodes, **weights):
    return navarch_filter(pod=p, nodes=nodes, state=CycleState(weights=weights))


def test_every_concern_has_its_own_filter_name():
    assert FILTER_NAMES == ("node-name", "cordon", "node-affinity", "taints", "resources")


@pytest.mark.parametrize(
    ("name", "pod_spec", "node_spec"),
    [
        ("cordon", {}, {"unschedulable": True}),
        ("node-name", {"nodeName": "elsewhere"}, {}),
        ("node-affinity", {"nodeSelector": {"disk": "ssd"}}, {}),
        ("taints", {}, {"taints": TAINTED}),
    ],
)
def test_a_profile_turns_one_filter_off_and_keeps_the_others(name, pod_spec, node_spec):
    fits = pod(cpu="1", **pod_spec)
    assert set(run(fits, [node("n", **node_spec)])) == {"n"}
    assert run(fits, [node("n", **node_spec)], **{name: 0}) == {}
    # The other filters still run: a node also too small is filtered out for that.
    too_big = pod(cpu="8", **pod_spec)
    assert run(too_big, [node("n", cpu="1", **node_spec)], **{name: 0}) == {"n": "Insufficient cpu"}


def test_turning_resources_off_lets_a_pod_overcommit():
    assert run(pod(cpu="8"), [node("n", cpu="1")]) == {"n": "Insufficient cpu"}
    assert run(pod(cpu="8"), [node("n", cpu="1")], resources=0) == {}


def test_the_fast_path_agrees_with_the_filters_when_one_is_off():
    # A plain pod on a plain node takes the inline path; turning filters off never makes a
    # node that fails another filter pass.
    nodes = [node("ok"), node("full", cpu="500m"), node("tainted", taints=TAINTED)]
    assert run(pod(cpu="1"), nodes) == {
        "full": "Insufficient cpu",
        "tainted": "node(s) had untolerated taint {gpu: true}",
    }
    assert run(pod(cpu="1"), nodes, taints=0) == {"full": "Insufficient cpu"}
    assert run(pod(cpu="1"), nodes, resources=0) == {
        "tainted": "node(s) had untolerated taint {gpu: true}"
    }


def test_turning_a_filter_off_through_scheduler_weights():
    # The daemon merges scheduler.weights over the profile: {taints: 0} reaches the filter.
    state = CycleState(weights={"least-allocated": 1, "taints": 0})
    assert state.runs_filter("cordon") and not state.runs_filter("taints")
    assert state.wants("least-allocated") and not state.wants("taints")


def test_score_plugins_need_nothing_from_the_core_filters_plugin():
    # Their shared helpers live in the framework: with the core filters plugin blocked,
    # both score plugins still load and run.
    pm = build_plugin_manager(disabled=["navarch.scheduler.filters"])
    names = {name for name, plugin in pm.list_name_plugin() if plugin is not None}
    assert "navarch.scheduler.filters" not in names
    for module in ("navarch_sched_spread", "navarch_sched_binpack"):
        plugin = importlib.import_module(module)
        assert plugin.request_of is framework.request_of
        assert "navarch.scheduler.filters" not in {
            getattr(v, "__module__", "") for v in vars(plugin).values()
        }
    results = pm.hook.navarch_score(
        pod=pod(), nodes=[node("a"), node("b")], state=CycleState(weights={"least-allocated": 1})
    )
    assert any(results)
