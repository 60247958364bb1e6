"""``navarch controllers`` as a process against a private API server: the loops that
left the API server (a deleted namespace emptied and removed; a pod whose grace
period ran out removed), leader election between two copies (exactly one acts; the
other takes over when the leader is killed, at once when it is stopped cleanly) — the
scheduler's too — configuration errors refused before anything starts, and a
controller whose ``run()`` failed working again once the manager restarted it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from navarch import hookimpl
from navarch.assembly import Assembly
from navarch.client import Client
from navarch.client.errors import NotFound
from navarch.config import load_config
from navarch.controllers import ControllerContext, QueueController
from navarch.controllers.manager import ControllerManager
from navarch.plugins import build_plugin_manager
from navarch.registry import collect
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.controllermanager import ControllerManagerProcess
from navarch.testing.navarchprocess import NavarchProcess
from navarch.testing.waiting import eventually
from tests.conftest import run_cli

DEADLINE = 60.0
# Short election times, so that a take-over is seen in seconds.
FAST_ELECTION = {
    "enabled": True,
    "lease_duration_seconds": 4,
    "renew_deadline_seconds": 3,
    "retry_period_seconds": 1,
}


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory):
    with ApiServerProcess(tmp_path_factory.mktemp("apiserver")) as server:
        yield server


@pytest_asyncio.fixture
async def client(api_server: ApiServerProcess) -> AsyncIterator[Client]:
    client = Client.from_kubeconfig(api_server.kubeconfig)
    yield client
    await client.close()


def _manager(api_server: ApiServerProcess, directory: Path, **settings: object):
    return ControllerManagerProcess(
        directory,
        api_server.kubeconfig,
        settings={"leader_election": FAST_ELECTION, **settings},
    )


async def _says(process: ControllerManagerProcess, text: str) -> bool:
    return process.log_path.exists() and text in process.log_path.read_text()


async def _renewed(client: Client, holder: str, times: int) -> None:
    """Return once ``holder`` renewed the controller manager's Lease ``times`` times
    (seen as that many new resourceVersions while it holds it)."""
    seen: set[str] = set()
    first = ""

    async def renewals() -> bool:
        nonlocal first
        lease = await client.leases.get("navarch-controller-manager", "kube-system")
        assert lease.spec.holder_identity == holder, "the Lease changed hands"
        version = lease.metadata.resource_version or ""
        first = first or version
        if version != first:
            seen.add(version)
        return len(seen) >= times

    await eventually(renewals, f"{times} renewals of the Lease by {holder}", deadline=DEADLINE)


def _pod(name: str, node: str = "nowhere") -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            **({"nodeName": node} if node else {}),
            "containers": [{"name": "c", "image": "127.0.0.1:5000/a:1"}],
        },
    }


async def _gone(call: Callable[[], Awaitable[object]]) -> bool:
    try:
        await call()
    except NotFound:
        return True
    return False


async def test_namespace_emptied_and_removed_and_expired_pods_removed(
    api_server: ApiServerProcess, client: Client, tmp_path: Path
) -> None:
    with _manager(api_server, tmp_path / "cm"):
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}}
        await client.namespaces.create(namespace)
        await client.pods.create(_pod("inside"), namespace="doomed")
        await client.namespaces.delete("doomed")
        # the pod is bound to a node no agent runs: it goes when its grace period ends
        await client.pods.create(_pod("orphan"), namespace="default")
        await client.pods.delete("orphan", "default", grace_period_seconds=1)
        await eventually(
            lambda: _gone(lambda: client.pods.get("orphan", "default")),
            "the pod past its grace period is removed",
        )
        await eventually(
            lambda: _gone(lambda: client.namespaces.get("doomed")),
            "the namespace is emptied and removed",
        )


async def _holder(client: Client) -> str:
    try:
        lease = await client.leases.get("navarch-controller-manager", "kube-system")
    except NotFound:
        return ""
    return lease.spec.holder_identity or ""


async def test_two_copies_one_leads_and_the_other_takes_over(
    api_server: ApiServerProcess, client: Client, tmp_path: Path
) -> None:
    first = _manager(api_server, tmp_path / "first").start()
    second = _manager(api_server, tmp_path / "second").start(wait_leading=False)
    try:
        holder = await _holder(client)
        assert holder, "the leader holds the Lease"
        # Proof the second looked: it campaigns (retrying every retry period), and the
        # first renews the Lease again and again for longer than a lease duration — the
        # renewals the second watched instead of taking an expired Lease.
        await eventually(lambda: _says(second, "waiting to lead"), "the second campaigning")
        await _renewed(client, holder, times=FAST_ELECTION["lease_duration_seconds"] + 2)
        assert not second.leading_since(), "the second copy must not act while the first leads"
        assert await _holder(client) == holder

        # SIGKILL: no release; the second waits out the lease, then leads
        assert first.process is not None
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=30)
        second.wait_leading(DEADLINE)
        assert await _holder(client) not in ("", holder)

        # a leader stopped cleanly releases the Lease: a new copy takes over at once
        third = _manager(api_server, tmp_path / "third").start(wait_leading=False)
        try:
            second.stop()
            third.wait_leading(DEADLINE)
            assert "lease released" in second.log_path.read_text()
        finally:
            third.stop()
    finally:
        first.stop()
        second.stop()


def test_bad_configuration_is_refused_before_starting(tmp_path: Path) -> None:
    unknown = run_cli(
        "--data-dir", str(tmp_path), "--set", "controllers.enabled=*,-nope", "controllers"
    )
    assert unknown.returncode == 2 and "nope" in unknown.stderr
    options = run_cli(
        "--data-dir",
        str(tmp_path),
        "--set",
        "controllers.options={namespace: {recheck_seconds: soon}}",
        "controllers",
    )
    assert options.returncode == 2 and "controllers.options.namespace" in options.stderr
    election = run_cli(
        "--data-dir",
        str(tmp_path),
        "--set",
        "leader_election.renew_deadline_seconds=20",
        "controllers",
    )
    assert election.returncode == 2 and "renew deadline" in election.stderr


def _node(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


async def _bound(client: Client, name: str) -> bool:
    pod = await client.pods.get(name, "default")
    return bool(pod.spec.node_name)


async def test_two_schedulers_one_binds_and_the_other_takes_over(
    api_server: ApiServerProcess, client: Client, tmp_path: Path
) -> None:
    """The scheduler elects its leader the same way (Lease navarch-scheduler)."""
    config = {
        "kubeconfig": str(api_server.kubeconfig),
        "log": {"format": "json", "level": "INFO"},
        "leader_election": FAST_ELECTION,
    }
    schedulers = [
        NavarchProcess(tmp_path / name, "scheduler", {**config, "data_dir": str(tmp_path / name)})
        for name in ("first", "second")
    ]
    try:
        schedulers[0].start()
        await client.nodes.create(_node("le-node"))

        async def holder() -> str:
            try:
                lease = await client.leases.get("navarch-scheduler", "kube-system")
            except NotFound:
                return ""
            return lease.spec.holder_identity or ""

        await eventually(holder, "the first scheduler holds the Lease", schedulers)
        leader = await holder()
        schedulers[1].start()
        await client.pods.create(_pod("le-1", node=""), namespace="default")
        await eventually(lambda: _bound(client, "le-1"), "le-1 bound by the leader", schedulers)
        assert await holder() == leader  # the second only waits

        schedulers[0].kill()  # no release: the second waits the lease out, then leads
        await client.pods.create(_pod("le-2", node=""), namespace="default")
        await eventually(lambda: _bound(client, "le-2"), "le-2 bound by the new leader", schedulers)
        assert await holder() not in ("", leader)
    finally:
        for scheduler in schedulers:
            scheduler.stop()


class FailsOnce(QueueController):
    """Records the namespaces it syncs; its first ``run()`` fails once it synced one,
    as a controller's own helper loop beside its workers might."""

    def __init__(self, context: ControllerContext):
        super().__init__(context)
        context.informers.informer("namespaces").add_handler(
            on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new)
        )
        self.runs = 0
        self.synced: list[str] = []

    async def sync(self, key: str) -> float | None:
        self.synced.append(key)
        return None

    async def run(self) -> None:
        self.runs += 1
        if self.runs > 1:
            await super().run()
            return

        async def helper() -> None:
            await eventually(lambda: _true(bool(self.synced)), "the first run synced a key")
            raise RuntimeError("the helper loop failed")

        async with asyncio.TaskGroup() as group:
            group.create_task(super().run())
            group.create_task(helper())


async def _true(value: bool) -> bool:
    return value


class _FailsOncePlugin:
    def __init__(self) -> None:
        self.built: list[FailsOnce] = []

    @hookimpl
    def navarch_register_controllers(self, register):  # type: ignore[no-untyped-def]
        def factory(context: ControllerContext) -> FailsOnce:
            self.built.append(FailsOnce(context))
            return self.built[-1]

        register("fails-once", factory)


async def test_a_controller_whose_run_failed_reconciles_after_its_restart(
    api_server: ApiServerProcess, client: Client
) -> None:
    """issue 21 item 3: the manager restarts a failed ``run()``; the restarted
    controller must still receive and sync keys (its queue was shut down for good)."""
    plugin = _FailsOncePlugin()
    pm = build_plugin_manager(entry_points=False)
    pm.register(plugin, name="fails-once")
    config = load_config(file=None, env={}, overrides=["controllers.enabled=fails-once"])
    manager = ControllerManager(Assembly(config, pm, collect(pm)), client, "test")
    await client.namespaces.create(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "restart-before"}}
    )
    leading = asyncio.create_task(manager.lead())
    try:
        await eventually(lambda: _true(len(plugin.built) == 1), "the controller is built")
        controller = plugin.built[0]
        await eventually(lambda: _true(controller.runs >= 2), "the failed run is restarted")
        await client.namespaces.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "restart-after"}}
        )
        await eventually(
            lambda: _true("restart-after" in controller.synced),
            "the restarted controller syncs a namespace created after its failure",
        )
        assert "restart-before" in controller.synced
        assert not leading.done()
    finally:
        leading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await leading
