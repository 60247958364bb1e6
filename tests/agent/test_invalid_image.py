"""An image that is no image reference (issue 29 item 4): the container waits with
InvalidImageName and the kubelet's message; the runtime is never asked to pull it."""

from __future__ import annotations

import pytest

from navarch import api
from navarch.testing.images import BUSYBOX_IMAGE
from tests.agent.conftest import build_runtime, eventually, pod_body, running_agent


@pytest.fixture
def runtime(tmp_path):
    return build_runtime("sim", {}, tmp_path / "sim")


def as_dict(obj):
    return obj if isinstance(obj, dict) else api.dump(obj)


@pytest.mark.parametrize(
    ("name", "image", "why"),
    [
        ("dotted", "../../etc", "invalid reference format"),
        (
            "upper",
            "Busybox:1",
            "invalid reference format: repository name (library/Busybox) must be lowercase",
        ),
    ],
)
async def test_an_invalid_image_name_is_never_pulled(client, runtime, name, image, why):
    looked_up: list[str] = []
    pull, status = runtime.pull_image, runtime.image_status

    async def pull_image(wanted, *args, **kwargs):
        looked_up.append(wanted)
        return await pull(wanted, *args, **kwargs)

    async def image_status(wanted):
        looked_up.append(wanted)
        return await status(wanted)

    runtime.pull_image, runtime.image_status = pull_image, image_status
    node = f"img-{name}"
    async with running_agent(client, runtime, node):
        body = pod_body(name, node, image=BUSYBOX_IMAGE)
        body["spec"]["containers"].append({"name": "bad", "image": image, "command": ["true"]})
        created = as_dict(await client.pods.create(body))
        uid = created["metadata"]["uid"]

        async def invalid():
            status = as_dict(await client.pods.get(name, "default")).get("status") or {}
            by_name = {c["name"]: c for c in status.get("containerStatuses") or []}
            waiting = (by_name.get("bad") or {}).get("state", {}).get("waiting") or {}
            return waiting if waiting.get("reason") == "InvalidImageName" else None

        waiting = await eventually(invalid, "the container waiting with InvalidImageName")
        assert waiting["message"] == (
            f'Failed to apply default image tag "{image}": '
            f'couldn\'t parse image name "{image}": {why}'
        )

        async def inspect_failed():
            listed = await client.events.list("default", field_selector=f"involvedObject.uid={uid}")
            return [e for e in map(as_dict, listed.items) if e["reason"] == "InspectFailed"]

        (event,) = await eventually(inspect_failed, "an InspectFailed Event")
        assert event["type"] == "Warning" and event["message"] == waiting["message"]
        # The valid image beside it was looked up: the agent did reach the runtime.
        assert BUSYBOX_IMAGE in looked_up
        assert image not in looked_up
        await client.pods.delete(name, "default", grace_period_seconds=0)
