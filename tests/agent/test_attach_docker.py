"""``kubectl attach`` and ``kubectl port-forward`` on Docker (issue 24 item 7), with
the real kubectl: the agent in this process on a private dockerd, its streaming port
proxied by the API server. The containerd side is tests/e2e/test_port_forward.py."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import attrs
import pytest

from navarch.agent.agent import Agent
from navarch.agent.daemon import streaming_for
from navarch.client import load_kubeconfig
from navarch.testing.images import BUSYBOX_IMAGE
from tests.agent.conftest import FAST, eventually, identity, pod_body
from tests.agent.test_agent_docker import dockerd, running, runtime  # noqa: F401 - fixtures
from tests.e2e.streams import WEB, kubectl, kubectl_port_forward, until_answered

pytestmark = pytest.mark.daemon


async def test_kubectl_attach_and_port_forward_on_docker(
    client,
    runtime,  # noqa: F811 - the fixture imported above
    api_server,
    tmp_path: Path,
) -> None:
    settings = attrs.evolve(FAST, address="127.0.0.1", port=0, data_dir=tmp_path / "agent")
    agent = Agent(
        client,
        runtime,
        identity("dk-attach"),
        settings,
        streaming=streaming_for(load_kubeconfig(api_server.kubeconfig), settings),
    )
    task = asyncio.create_task(agent.run())
    try:
        talker = pod_body(
            "dk-talker",
            "dk-attach",
            image=BUSYBOX_IMAGE,
            command=[
                "sh",
                "-c",
                'read line; echo "got $line"; read rest; echo "then ${rest:-eof}"',
            ],
            restartPolicy="Never",
            container={"stdin": True, "stdinOnce": True},
        )
        await client.pods.create(talker)
        await client.pods.create(
            pod_body("dk-web", "dk-attach", image=BUSYBOX_IMAGE, command=["sh", "-c", WEB])
        )
        await eventually(lambda: running(client, "dk-talker"), "dk-talker Running")
        result = await kubectl(api_server, "attach", "-i", "dk-talker", stdin=b"hello\n")
        assert result.returncode == 0, result.stderr
        assert b"got hello\nthen eof\n" in result.stdout, (result.stdout, result.stderr)

        await eventually(lambda: running(client, "dk-web"), "dk-web Running")
        forward = kubectl_port_forward(api_server, "pod/dk-web", 8080, log=tmp_path / "pf")
        try:
            assert await until_answered(forward, 8080) == b"alpha\n"
        finally:
            forward.stop()
        for name in ("dk-talker", "dk-web"):
            await client.pods.delete(name, "default", grace_period_seconds=0)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
