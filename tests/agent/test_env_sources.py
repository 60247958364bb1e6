"""A container's environment from ConfigMaps and Secrets: ``valueFrom`` key refs and
``envFrom`` with prefix, ``optional``, Kubernetes' order and its messages."""

from __future__ import annotations

import base64

import pytest

from navarch import api
from navarch.agent.apiobjects import CONFIG_MAPS, SECRETS, ObjectReader
from navarch.agent.envsources import read_env_sources
from navarch.agent.podspec import EnvError, resolve_env
from navarch.agent.volumes.layout import PodDirectories
from navarch.agent.volumes.manager import VolumeManager
from navarch.client.errors import NotFound


def pod(env=None, env_from=None):
    container = {"name": "app", "image": "navarch.test/busybox:1"}
    if env is not None:
        container["env"] = env
    if env_from is not None:
        container["envFrom"] = env_from
    return api.load(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "team", "uid": "u-1"},
            "spec": {"nodeName": "n1", "containers": [container]},
        }
    ).obj


def reader(config_maps=None, secrets=None) -> ObjectReader:
    """A reader holding these objects (name -> data; None: missing)."""
    held = ObjectReader(client=None)  # type: ignore[arg-type]  # never asks the API
    for name, data in (config_maps or {}).items():
        held.preload(CONFIG_MAPS, "team", name, None if data is None else {"data": data})
    for name, data in (secrets or {}).items():
        encoded = None
        if data is not None:
            encoded = {"data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}
        held.preload(SECRETS, "team", name, encoded)
    return held


async def resolve(p, held):
    container = p.spec.containers[0]
    sources = await read_env_sources(held, p, container)
    env = resolve_env(p, container, host_ip="", pod_ip="", allocatable={}, sources=sources)
    return env, sources


async def test_key_refs_and_env_from_in_kubernetes_order():
    p = pod(
        env=[
            {"name": "MODE", "value": "env wins over envFrom"},
            {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
            {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "level"}}},
            {"name": "SAID", "value": "$(CFG_greeting) at $(LEVEL)"},
        ],
        env_from=[
            {"configMapRef": {"name": "app"}, "prefix": "CFG_"},
            {"secretRef": {"name": "db"}},
            {"configMapRef": {"name": "modes"}},
        ],
    )
    held = reader(
        config_maps={"app": {"level": "debug", "greeting": "hi"}, "modes": {"MODE": "from cm"}},
        secrets={"db": {"password": "s3cret", "user": "admin"}},
    )
    env, sources = await resolve(p, held)
    assert env == (
        ("CFG_greeting", "hi"),
        ("CFG_level", "debug"),
        ("password", "s3cret"),
        ("user", "admin"),
        ("MODE", "env wins over envFrom"),
        ("PW", "s3cret"),
        ("LEVEL", "debug"),
        ("SAID", "hi at debug"),
    )
    assert sources.skipped == []


@pytest.mark.parametrize(
    ("env", "env_from", "message"),
    [
        (
            [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "x", "key": "k"}}}],
            None,
            'configmap "x" not found',
        ),
        (
            [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            None,
            'secret "s" not found',
        ),
        (
            [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "nope"}}}],
            None,
            "couldn't find key nope in ConfigMap team/app",
        ),
        (None, [{"configMapRef": {"name": "x"}}], 'configmap "x" not found'),
        (None, [{"secretRef": {"name": "s"}}], 'secret "s" not found'),
    ],
)
async def test_missing_objects_and_keys_are_the_kubelets_errors(env, env_from, message):
    held = reader(config_maps={"x": None, "app": {"level": "1"}}, secrets={"s": None})
    with pytest.raises(EnvError) as raised:
        await resolve(pod(env=env, env_from=env_from), held)
    assert str(raised.value) == message


async def test_optional_missing_objects_and_keys_leave_the_variable_out():
    p = pod(
        env=[
            {
                "name": "A",
                "valueFrom": {"configMapKeyRef": {"name": "x", "key": "k", "optional": True}},
            },
            {
                "name": "B",
                "valueFrom": {"secretKeyRef": {"name": "db", "key": "nope", "optional": True}},
            },
            {"name": "C", "value": "kept"},
        ],
        env_from=[{"configMapRef": {"name": "x", "optional": True}}],
    )
    env, _ = await resolve(p, reader(config_maps={"x": None}, secrets={"db": {"pw": "1"}}))
    assert env == (("C", "kept"),)


async def test_env_from_skips_keys_that_are_no_variable_names():
    p = pod(env_from=[{"configMapRef": {"name": "app"}}])
    held = reader(config_maps={"app": {"good": "1", "1bad": "2", "also bad": "3"}})
    env, sources = await resolve(p, held)
    assert env == (("good", "1"),)
    assert sources.skipped == [
        "Keys [1bad, also bad] from the EnvFrom configMap team/app were skipped since they "
        "are considered invalid environment variable names."
    ]


class CountingClient:
    """An API server holding a few objects by path, counting what it is asked."""

    def __init__(self, objects):
        self.objects = objects
        self.asked: list[tuple[str, str]] = []

    async def request(self, method, path, **kwargs):
        self.asked.append((method, path))
        if path not in self.objects:
            raise NotFound(404, {"reason": "NotFound", "message": "not found"})
        return self.objects[path]


async def test_each_object_is_read_once_per_sync_by_name(tmp_path):
    """Two containers and a volume naming one ConfigMap, a Secret named twice that does
    not exist: one GET each for the sync, and never a list."""
    env = [
        {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "a"}}},
        {
            "name": "S",
            "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}},
        },
    ]
    p = api.load(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "team", "uid": "u-2"},
            "spec": {
                "nodeName": "n1",
                "containers": [
                    {"name": c, "image": "navarch.test/busybox:1", "env": env} for c in ("a", "b")
                ],
                "volumes": [{"name": "cfg", "configMap": {"name": "app"}}],
            },
        }
    ).obj
    client = CountingClient({"/api/v1/namespaces/team/configmaps/app": {"data": {"a": "1"}}})
    held = ObjectReader(client)  # type: ignore[arg-type]
    for container in p.spec.containers:
        sources = await read_env_sources(held, p, container)
        env_now = resolve_env(p, container, host_ip="", pod_ip="", allocatable={}, sources=sources)
        assert env_now == (("A", "1"),)
    volumes = VolumeManager(PodDirectories(tmp_path), "n1", {})
    ready = await volumes.setup(p, held)
    assert (ready["cfg"].path / "a").read_text() == "1"
    assert sorted(client.asked) == [
        ("GET", "/api/v1/namespaces/team/configmaps/app"),
        ("GET", "/api/v1/namespaces/team/secrets/gone"),
    ]
