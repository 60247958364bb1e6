"""The ``kubernetes`` Service and its endpoints (issue 24 item 3), and allocation with
two API servers on one etcd store: each server lists itself, one stopping takes itself
out, and Services created at once through both get distinct ClusterIPs."""

from __future__ import annotations

import asyncio

import pytest

from navarch import api
from navarch.client import Client
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.waiting import eventually


async def endpoint_ports(client: Client) -> list[tuple[str, int]]:
    ep = api.dump(await client.endpoints.get("kubernetes", "default"))
    return sorted(
        (address["ip"], subset["ports"][0]["port"])
        for subset in ep.get("subsets") or []
        for address in subset.get("addresses") or []
    )


async def test_the_kubernetes_service_names_the_api_server(api_server):
    async with Client.from_kubeconfig(api_server.kubeconfig) as client:
        service = api.dump(await client.services.get("kubernetes", "default"))
        assert service["spec"]["clusterIP"] == "10.43.0.1"
        assert service["spec"]["ports"] == [
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": api_server.port}
        ]
        assert "selector" not in service["spec"]
        assert await endpoint_ports(client) == [("127.0.0.1", api_server.port)]
        slice_ = api.dump(await client.endpointslices.get("kubernetes", "default"))
        assert slice_["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"
        assert slice_["ports"] == [{"name": "https", "port": api_server.port, "protocol": "TCP"}]
        assert [e["addresses"] for e in slice_["endpoints"]] == [["127.0.0.1"]]


@pytest.fixture
def etcd_store(tmp_path):
    from navarch_store_etcd.testing import EtcdServer

    with EtcdServer(tmp_path / "etcd") as etcd:
        yield {"name": "etcd", "options": {"endpoints": [etcd.endpoint]}}


async def test_two_api_servers_on_one_store(tmp_path, etcd_store):
    with (
        ApiServerProcess(tmp_path / "one", settings={"store": etcd_store}) as one,
        ApiServerProcess(tmp_path / "two", settings={"store": etcd_store}) as two,
    ):
        async with (
            Client.from_kubeconfig(one.kubeconfig) as first,
            Client.from_kubeconfig(two.kubeconfig) as second,
        ):
            both = sorted([("127.0.0.1", one.port), ("127.0.0.1", two.port)])

            async def both_listed() -> bool:
                return await endpoint_ports(first) == both

            await eventually(both_listed, "both API servers in the kubernetes Endpoints")

            async def create(i: int) -> str:
                client = (first, second)[i % 2]
                svc = {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": f"s{i}"},
                    "spec": {"ports": [{"port": 80}]},
                }
                for _ in range(50):
                    try:
                        return api.dump(await client.services.create(svc, "default"))["spec"][
                            "clusterIP"
                        ]
                    except Exception as exc:  # 429 under the in-flight limit: again
                        if "429" not in str(exc):
                            raise
                        await asyncio.sleep(0.2)
                raise AssertionError(f"s{i} was never created")

            ips = await asyncio.gather(*(create(i) for i in range(200)))
            assert len(set(ips)) == 200
            assert "10.43.0.1" not in ips  # the kubernetes Service's

            two.stop()

            async def only_one() -> bool:
                return await endpoint_ports(first) == [("127.0.0.1", one.port)]

            await eventually(only_one, "a stopped API server taken out of the Endpoints")
