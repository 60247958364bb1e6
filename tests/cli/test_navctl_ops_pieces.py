"""The operations verbs' pure parts: durations, targets, drain's filters, top's table."""

from __future__ import annotations

import pytest

from navarch.cli.navctl.arguments import parse_duration, split_target
from navarch.cli.navctl.commands import nodes
from navarch.cli.navctl.commands.logs import label_selector
from navarch.cli.navctl.commands.nodes import plan_drain
from navarch.cli.navctl.commands.top import memory_text, percent, table
from navarch.cli.navctl.failures import CliError
from navarch.client import ApiException


def test_durations_as_kubectl_takes_them():
    assert parse_duration("90") == 90
    assert parse_duration("30s") == 30
    assert parse_duration("5m") == 300
    assert parse_duration("1h30m") == 5400
    assert parse_duration("500ms") == 0.5
    for bad in ("", "5x", "m5", "1h 2m"):
        with pytest.raises(CliError, match="invalid duration"):
            parse_duration(bad)


def test_targets_in_every_spelling():
    assert [(r.plural, n) for r, n in [split_target(["deployment/web"])]] == [
        ("deployments", "web")
    ]
    assert split_target(["deploy", "web"])[0].kind == "Deployment"
    assert split_target(["web"], default="pods")[0].kind == "Pod"
    with pytest.raises(CliError, match="TYPE/NAME"):
        split_target(["web"])
    with pytest.raises(CliError, match="doesn't have a resource type"):
        split_target(["gizmo/web"])


def _pod(name, *, owner=None, phase="Running", volumes=(), mirror=False):
    meta = {"name": name, "namespace": "default"}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "o", "uid": "u", "controller": True}]
    if mirror:
        meta["annotations"] = {"kubernetes.io/config.mirror": "x"}
    return {"metadata": meta, "spec": {"volumes": list(volumes)}, "status": {"phase": phase}}


def test_drain_refuses_and_warns_with_kubectls_words():
    pods = [
        _pod("rs-pod", owner="ReplicaSet"),
        _pod("bare"),
        _pod("done", phase="Succeeded"),
        _pod("ds", owner="DaemonSet"),
        _pod("scratch", owner="ReplicaSet", volumes=[{"name": "tmp", "emptyDir": {}}]),
        _pod("static", mirror=True),
    ]
    plan = plan_drain(pods, force=False, ignore_daemonsets=False, delete_emptydir=False)
    assert plan.errors == [
        "cannot delete Pods declare no controller (use --force to override): default/bare",
        "cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): default/ds",
        "cannot delete Pods with local storage (use --delete-emptydir-data to override): "
        "default/scratch",
    ]
    plan = plan_drain(pods, force=True, ignore_daemonsets=True, delete_emptydir=True)
    assert not plan.errors
    assert [p["metadata"]["name"] for p in plan.evict] == ["rs-pod", "bare", "done", "scratch"]
    assert "deleting Pods that declare no controller: default/bare" in plan.warnings
    assert "ignoring DaemonSet-managed Pods: default/ds" in plan.warnings


def test_selectors_and_top_cells():
    selector = {
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
    }
    assert label_selector(selector) == "app=web,tier in (a,b)"
    assert memory_text(256 * 1024 * 1024) == "256Mi"
    assert percent(500, 4000) == "12%" and percent(1, 0) == "<unknown>"
    assert table([["NAME", "CPU"], ["node-1", "5m"]]) == "NAME     CPU\nnode-1   5m"


class _RefusingOnce:
    """A Session stand-in: the first eviction answered 429 (a disruption budget), the
    second accepted; then the pod is gone."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.evictions = 0

    async def request(self, method: str, path: str, **kwargs):
        self.calls.append((method, path))
        if method == "POST":
            self.evictions += 1
            if self.evictions == 1:
                raise ApiException(429, {"reason": "TooManyRequests", "message": "budget"})
            assert kwargs["body"]["deleteOptions"] == {"gracePeriodSeconds": 3}
            return {"kind": "Status", "code": 201}
        raise ApiException(404, {"reason": "NotFound", "message": "gone"})


async def test_an_eviction_refused_with_429_is_retried(monkeypatch, capsys):
    monkeypatch.setattr(nodes, "EVICTION_RETRY_SECONDS", 0.0)
    session = _RefusingOnce()
    pod = _pod("web-1", owner="ReplicaSet")
    pod["metadata"]["uid"] = "u1"
    await nodes._evict_and_wait(session, pod, 3, None, 0)  # type: ignore[arg-type]
    assert session.evictions == 2
    out, err = capsys.readouterr()
    assert out == "evicting pod default/web-1\npod/web-1 evicted\n"
    assert 'error when evicting pods/"web-1" -n "default" (will retry after 0s): budget' in err
