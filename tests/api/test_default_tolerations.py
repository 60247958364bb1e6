"""DefaultTolerationSeconds admission: pods get bounded tolerations of the not-ready and
unreachable NoExecute taints unless they speak for them already."""

from __future__ import annotations

from typing import Any

import pytest

from navarch import api
from navarch.admission import CREATE, UPDATE, AdmissionRequest, admit
from navarch.apiserver import defaulttolerationseconds as plugin
from navarch.config import load_config
from navarch.plugins import build_plugin_manager

NOT_READY, UNREACHABLE = plugin.NOT_READY, plugin.UNREACHABLE


def _pod(tolerations: list[dict[str, Any]] | None = None) -> Any:
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "127.0.0.1:5000/a:1"}]},
    }
    if tolerations is not None:
        body["spec"]["tolerations"] = tolerations
    return api.decode(body).obj


def _admitted(pod: Any, operation: str = CREATE) -> list[dict[str, Any]]:
    pm = build_plugin_manager(entry_points=False)
    request = AdmissionRequest(operation, "Pod", pod, pod if operation == UPDATE else None)
    return api.dump(admit(pm, request))["spec"].get("tolerations") or []


def _no_execute(key: str, seconds: int) -> dict[str, Any]:
    return {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds}


def test_a_pod_gets_both_tolerations_with_the_default_seconds() -> None:
    assert _admitted(_pod()) == [_no_execute(NOT_READY, 10), _no_execute(UNREACHABLE, 10)]


def test_the_pods_own_tolerations_stand() -> None:
    own = [
        {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"},  # for ever
        {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"},
    ]
    assert _admitted(_pod(own)) == [*own, _no_execute(NOT_READY, 10)]


@pytest.mark.parametrize(
    "wildcard",
    [
        {"operator": "Exists"},  # every taint
        {"operator": "Exists", "effect": "NoExecute"},  # every NoExecute taint
    ],
)
def test_a_wildcard_toleration_covers_both(wildcard: dict[str, Any]) -> None:
    assert _admitted(_pod([wildcard])) == [wildcard]


def test_an_update_without_them_gets_them_back() -> None:
    """Tolerations can only be added to a pod: a replace of the original manifest
    would otherwise be refused."""
    assert _admitted(_pod(), UPDATE) == [_no_execute(NOT_READY, 10), _no_execute(UNREACHABLE, 10)]


def test_the_seconds_come_from_the_api_servers_settings() -> None:
    config = load_config(
        env={},
        overrides=[f"{plugin.NOT_READY_SETTING}=7", f"{plugin.UNREACHABLE_SETTING}=300"],
    )
    before = dict(plugin._seconds)
    try:
        plugin.navarch_startup(config=config, pm=None, component="scheduler")  # type: ignore[arg-type]
        assert plugin._seconds == before  # another daemon's start-up changes nothing
        plugin.navarch_startup(config=config, pm=None, component="apiserver")  # type: ignore[arg-type]
        assert _admitted(_pod()) == [_no_execute(NOT_READY, 7), _no_execute(UNREACHABLE, 300)]
    finally:
        plugin._seconds.update(before)
