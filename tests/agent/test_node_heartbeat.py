"""The Node's status after the agent was cut off: once its heartbeats reach the API
server again it writes its status whatever it wrote last, so a Ready=Unknown the node
lifecycle controller set meanwhile does not outlive the partition."""

from __future__ import annotations

import asyncio
import contextlib

from navarch.agent.node import NodeReporter
from navarch.client.errors import ApiException
from navarch.runtime import RuntimeVersion
from tests.agent.conftest import eventually, identity


async def _ready(client, name: str) -> str:
    node = await client.nodes.get(name)
    conditions = {c.type: c.status for c in (node.status.conditions or ())}
    return conditions.get("Ready", "")


class CutOff(NodeReporter):
    """A reporter whose heartbeats fail while ``cut`` (the API server unreachable)."""

    cut = False

    async def renew_lease(self) -> None:
        if self.cut:
            raise ApiException(503, {"message": "cannot reach the API server"})
        await super().renew_lease()


async def test_status_is_written_again_after_a_partition(client) -> None:
    async def version() -> RuntimeVersion:
        return RuntimeVersion("sim", "1", "v1")

    reporter = CutOff(
        client,
        identity("heartbeat-1"),
        version,
        lease_renew_seconds=0.5,
        status_update_seconds=3600,  # no periodic rewrite: only the partition's
    )
    task = asyncio.create_task(reporter.run())
    try:
        await eventually(lambda: _is(client, "True"), "the node Ready")
        CutOff.cut = True
        # meanwhile the node lifecycle controller marks the silent node Unknown
        patch = {
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown"}
                ]
            }
        }
        # several failed heartbeats: past 2 x lease_renew_seconds unheard, so the next
        # one that reaches the API server writes the status whatever it wrote last
        failed = reporter.heartbeat_errors

        async def unheard() -> bool:
            return reporter.heartbeat_errors >= failed + 3

        await eventually(unheard, "three failed heartbeats")
        await client.nodes.patch("heartbeat-1", patch, subresource="status")
        assert await _ready(client, "heartbeat-1") == "Unknown"
        CutOff.cut = False
        await eventually(lambda: _is(client, "True"), "Ready again once heard")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _is(client, status: str) -> bool:
    return await _ready(client, "heartbeat-1") == status
