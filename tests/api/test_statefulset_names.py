"""A StatefulSet's name is a DNS label, as Kubernetes' ValidateStatefulSetName has it
(issue 23 item 7): its pods take ``<set>-<ordinal>`` as their hostname, so a dotted or
over-long name made a set whose pods were all refused, for ever."""

from __future__ import annotations

from typing import Any

import pytest

from navarch.client import Client
from navarch.client.errors import ApiException


def _sts(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "serviceName": "db",
            "replicas": 0,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "127.0.0.1:5000/db:1"}]},
            },
        },
    }


@pytest.mark.parametrize("name", ["db.primary", "d" * 64])
async def test_a_statefulset_name_that_is_no_dns_label_is_refused(
    client: Client, name: str
) -> None:
    with pytest.raises(ApiException) as caught:
        await client.statefulsets.create(_sts(name), "default")
    assert caught.value.code == 422
    causes = (caught.value.status.get("details") or {}).get("causes") or []
    assert "metadata.name" in [c["field"] for c in causes], caught.value.status


async def test_a_statefulset_named_by_a_dns_label_is_taken_and_updated(client: Client) -> None:
    created = await client.statefulsets.create(_sts("d" * 63), "default")
    assert created.name == "d" * 63
    patched = await client.statefulsets.patch("d" * 63, {"spec": {"replicas": 0}}, "default")
    assert patched.name == "d" * 63
