"""From a Pod's spec to the runtime's configs: the environment (downward API, $(NAME)
references) and the limits."""

from __future__ import annotations

import pytest

from navarch import api
from navarch.agent.podspec import EnvError, container_config, expand, resolve_env


def pod(env, resources=None, command=None, args=None):
    container = {"name": "app", "image": "navarch.test/busybox:1", "env": env}
    if resources:
        container["resources"] = resources
    if command:
        container["command"] = command
    if args:
        container["args"] = args
    return api.load(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "dapi",
                "namespace": "team",
                "uid": "u-1",
                "labels": {"app": "web"},
                "annotations": {"build": "42"},
            },
            "spec": {"nodeName": "n1", "containers": [container]},
        }
    ).obj


def resolve(p, **kwargs):
    defaults = {"host_ip": "10.0.0.5", "pod_ip": "10.1.0.7", "allocatable": {"cpu": "4"}}
    return dict(resolve_env(p, p.spec.containers[0], **{**defaults, **kwargs}))


def field(name, path):
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def test_downward_api_fields():
    p = pod(
        [
            field("NODE", "spec.nodeName"),
            field("NAME", "metadata.name"),
            field("NS", "metadata.namespace"),
            field("UID", "metadata.uid"),
            field("IP", "status.podIP"),
            field("HOST", "status.hostIP"),
            field("APP", "metadata.labels['app']"),
            field("BUILD", "metadata.annotations['build']"),
            field("SA", "spec.serviceAccountName"),
        ]
    )
    assert resolve(p) == {
        "NODE": "n1",
        "NAME": "dapi",
        "NS": "team",
        "UID": "u-1",
        "IP": "10.1.0.7",
        "HOST": "10.0.0.5",
        "APP": "web",
        "BUILD": "42",
        "SA": "default",
    }


def test_resource_fields_with_divisors_and_the_node_for_unset_limits():
    ref = {"resourceFieldRef": {"containerName": "app", "resource": "limits.memory"}}
    mib = {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}
    cpu = {"resourceFieldRef": {"resource": "limits.cpu"}}
    p = pod(
        [
            {"name": "MEM", "valueFrom": ref},
            {"name": "MEM_MI", "valueFrom": mib},
            {"name": "CPU", "valueFrom": cpu},
        ],
        resources={"limits": {"memory": "64Mi"}},
    )
    assert resolve(p) == {"MEM": str(64 * 2**20), "MEM_MI": "64", "CPU": "4"}


def test_references_to_earlier_variables_expand_in_values_command_and_args():
    p = pod(
        [{"name": "GREETING", "value": "hello"}, {"name": "MESSAGE", "value": "$(GREETING) world"}],
        command=["echo", "$(MESSAGE)", "$(UNKNOWN)", "$$(MESSAGE)"],
    )
    env = resolve_env(p, p.spec.containers[0], host_ip="", pod_ip="", allocatable={})
    config = container_config(p, p.spec.containers[0], "n1", 0, env)
    assert dict(config.env)["MESSAGE"] == "hello world"
    assert config.command == ("echo", "hello world", "$(UNKNOWN)", "$(MESSAGE)")


def test_a_missing_secret_is_the_kubelets_message():
    # Secrets are served now (issue 23): one not read (missing) is Kubernetes' error;
    # tests/agent/test_env_sources.py has the rest.
    p = pod([{"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}])
    with pytest.raises(EnvError, match='secret "db" not found'):
        resolve(p)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("$(A)-$(B)", "1-$(B)"), ("$$", "$"), ("$(A", "$(A"), ("plain", "plain")],
)
def test_expand(text, expected):
    assert expand(text, {"A": "1"}) == expected
