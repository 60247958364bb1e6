"""Bounds on what the agent builds from a pod's spec: $(VAR) expansion (issue 29 item 5)
and the pod's hostname (issue 29 item 6)."""

from __future__ import annotations

import tracemalloc

import pytest

from navarch import api
from navarch.agent.podspec import (
    MAX_EXPANDED_SIZE,
    EnvError,
    container_config,
    resolve_env,
    sandbox_config,
)
from navarch.runtime import labels
from navarch.testing.images import BUSYBOX_IMAGE
from tests.agent.conftest import build_runtime, eventually, pod_body, running_agent

DOUBLINGS = 24


def doubling_env(steps: int) -> list[dict[str, str]]:
    """V0 = "ab", V1 = $(V0)$(V0), …: V<n> expands to 2**(n+1) characters."""
    env = [{"name": "V0", "value": "ab"}]
    env += [{"name": f"V{i}", "value": f"$(V{i - 1})$(V{i - 1})"} for i in range(1, steps + 1)]
    return env


def pod(name="p", env=(), args=(), hostname=None):
    spec = {"containers": [{"name": "app", "image": "navarch.test/busybox:1", "env": list(env)}]}
    if args:
        spec["containers"][0]["args"] = list(args)
    if hostname:
        spec["hostname"] = hostname
    body = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "team", "uid": "u-1"},
        "spec": {"nodeName": "n1", **spec},
    }
    return api.load(body).obj


def resolve(p):
    return resolve_env(p, p.spec.containers[0], host_ip="10.0.0.5", pod_ip="", allocatable={})


def test_chained_doublings_stop_at_the_bound_without_building_the_whole():
    p = pod(env=doubling_env(DOUBLINGS))
    tracemalloc.start()
    try:
        with pytest.raises(EnvError) as caught:
            resolve(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    # V19 is 1 MiB, and V0…V19 together pass 2 MiB: that is where it stops.
    assert message.startswith("env V19: expanding $(VAR) references")
    assert f"longer than {MAX_EXPANDED_SIZE} characters" in message
    # Unbounded, V24 alone is 33.5 MB (and all of them twice that).
    assert peak < 4 * MAX_EXPANDED_SIZE


def test_the_command_and_args_count_with_the_env():
    under = doubling_env(18)  # V0 … V18: 2**20 - 2 characters of values
    p = pod(env=under, args=["$(V18)"])
    env = dict(resolve(p))
    assert len(env["V18"]) == 2**19
    assert container_config(p, p.spec.containers[0], "n1", 0, tuple(env.items())).args == (
        env["V18"],
    )
    with pytest.raises(EnvError, match=r"^args\[1\]: expanding"):
        resolve(pod(env=under, args=["$(V18)", "$(V18)$(V18)"]))


async def test_a_pod_with_24_chained_doublings_waits_with_create_container_config_error(
    client, tmp_path
):
    runtime = build_runtime("sim", {}, tmp_path / "sim")
    node = "expand-1"
    async with running_agent(client, runtime, node):
        body = pod_body("doubling", node, image=BUSYBOX_IMAGE)
        body["spec"]["containers"][0]["env"] = doubling_env(DOUBLINGS)
        body["spec"]["containers"][0]["args"] = [f"$(V{DOUBLINGS})"]
        created = await client.pods.create(body)
        uid = (created if isinstance(created, dict) else api.dump(created))["metadata"]["uid"]

        async def config_error():
            got = await client.pods.get("doubling", "default")
            status = (got if isinstance(got, dict) else api.dump(got)).get("status") or {}
            for cs in status.get("containerStatuses") or []:
                waiting = cs["state"].get("waiting") or {}
                if waiting.get("reason") == "CreateContainerConfigError":
                    return waiting
            return None

        waiting = await eventually(config_error, "CreateContainerConfigError")
        assert waiting["message"].startswith("env V19: expanding $(VAR) references")
        # The sandbox was made (the agent got that far); no container was asked for.
        assert await runtime.list_sandboxes({labels.POD_UID: uid})
        assert await runtime.list_containers({labels.POD_UID: uid}) == []
        await client.pods.delete("doubling", "default", grace_period_seconds=0)


@pytest.mark.parametrize(
    ("name", "hostname", "expected"),
    [
        ("web-0", None, "web-0"),
        ("e" * 62 + "." + "e" * 190, None, "e" * 62),  # 253 characters, the 63rd a "."
        ("e" * 62 + "-" + "e" * 190, None, "e" * 62),  # nor a "-"
        ("e" * 63 + "." + "f" * 189, None, "e" * 63),
        ("x" * 100, "given", "given"),
    ],
)
def test_the_hostname_is_cut_to_63_characters_and_never_ends_in_a_dot_or_dash(
    name, hostname, expected
):
    assert sandbox_config(pod(name, hostname=hostname), "n1").hostname == expected
