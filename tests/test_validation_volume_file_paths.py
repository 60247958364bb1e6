"""The files a configMap, secret, downwardAPI or projected volume writes may not start
with '..' (Kubernetes' ValidateLocalNonReservedPath): ``..data`` and ``..<timestamp>``
are the atomic writer's own names, which the agent refuses to write, so such a pod is
refused at the API (422 naming the field) rather than accepted and left waiting with
FailedMount on its node."""

from __future__ import annotations

import pytest

from navarch.api import InvalidObject, load


def pod(volume):
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "web", "image": "web:1"}], "volumes": [volume]},
    }


FIELD = {"fieldRef": {"fieldPath": "metadata.name"}}
CASES = [
    (
        {"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "..data"}]}},
        "spec.volumes[0].configMap.items[0].path",
    ),
    (
        {"name": "v", "secret": {"secretName": "s", "items": [{"key": "k", "path": "..x/y"}]}},
        "spec.volumes[0].secret.items[0].path",
    ),
    (
        {"name": "v", "downwardAPI": {"items": [{"path": "..2026_12_07", **FIELD}]}},
        "spec.volumes[0].downwardAPI.items[0].path",
    ),
    (
        {
            "name": "v",
            "projected": {
                "sources": [{"configMap": {"name": "c", "items": [{"key": "k", "path": "..data"}]}}]
            },
        },
        "spec.volumes[0].projected.sources[0].configMap.items[0].path",
    ),
    (
        {"name": "v", "projected": {"sources": [{"serviceAccountToken": {"path": "..token"}}]}},
        "spec.volumes[0].projected.sources[0].serviceAccountToken.path",
    ),
]


@pytest.mark.parametrize(("volume", "path"), CASES, ids=[case[1] for case in CASES])
def test_a_volume_file_path_starting_with_two_dots_is_refused(volume, path):
    with pytest.raises(InvalidObject) as raised:
        load(pod(volume))
    found = [e.path for e in raised.value.errors if e.message.endswith("must not start with '..'")]
    assert found == [path]


def test_two_dots_elsewhere_in_a_file_path_are_fine():
    items = [{"key": "k", "path": "a..b"}, {"key": "l", "path": "dir/..data"}]
    loaded = load(pod({"name": "v", "configMap": {"name": "c", "items": items}})).obj
    assert [i.path for i in loaded.spec.volumes[0].config_map.items] == ["a..b", "dir/..data"]
