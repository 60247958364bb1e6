"""The agent's Prometheus metrics, served at ``/metrics`` on its streaming port (the
kubelet serves its own on ``:10250`` too).

The agent keeps plain counters where the work happens (the relist loop, the Node's
heartbeat, the pod workers); this module only reads them when scraped, through a
collector of its own in a registry per agent, so the several agents of one process
(``navarch up``) each show their own. A scrape needs a bearer token the API server
allows to ``get nodes/metrics`` on this node, as the kubelet asks (a
SelfSubjectAccessReview, :mod:`navarch.agent.access`)::

    GET https://<node>:<port>/metrics
    Authorization: Bearer <token>
    -> text/plain; version=0.0.4

    navarch_agent_relists_total 42.0
    navarch_agent_relist_errors_total 3.0
    ...

Counters, in Prometheus' convention (an ``_errors_total`` counts the failed part of
its ``_total``):

* ``navarch_agent_relists_total`` / ``navarch_agent_relist_errors_total``: looks at
  the runtime's containers (every ``agent.relist_seconds``), and those the runtime
  did not answer;
* ``navarch_agent_node_heartbeats_total`` / ``navarch_agent_node_heartbeat_errors_total``:
  Lease renewals with the runtime check and Node status that follow, and those the
  API server refused or did not answer;
* ``navarch_agent_pod_syncs_total``: pod syncs finished (the runtime converged to
  the pod once and its status computed);

and gauges: ``navarch_agent_pod_workers`` (pods with a worker on this node) and
``navarch_agent_node_ready`` (1 while the runtime answers).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from navarch.agent.access import AccessChecker

if TYPE_CHECKING:
    from navarch.agent.agent import Agent

PATH = "/metrics"


class AgentCollector(Collector):
    """The agent's counters, read at each scrape."""

    def __init__(self, agent: Agent):
        self.agent = agent

    def collect(self) -> Iterator[Metric]:
        agent, node = self.agent, self.agent.node
        yield _counter(
            "navarch_agent_relists",
            "Relists of the runtime's containers, finished or failed",
            agent.relists + agent.relist_errors,
        )
        yield _counter(
            "navarch_agent_relist_errors",
            "Relists the runtime did not answer",
            agent.relist_errors,
        )
        yield _counter(
            "navarch_agent_node_heartbeats",
            "Node heartbeats (Lease renewal, runtime check, Node status), finished or failed",
            node.heartbeats,
        )
        yield _counter(
            "navarch_agent_node_heartbeat_errors",
            "Node heartbeats the API server refused or did not answer",
            node.heartbeat_errors,
        )
        yield _counter("navarch_agent_pod_syncs", "Pod syncs finished", agent.syncs)
        yield GaugeMetricFamily(
            "navarch_agent_pod_workers", "Pods with a worker on this node", len(agent.workers)
        )
        yield GaugeMetricFamily(
            "navarch_agent_node_ready", "1 while the container runtime answers", int(node.ready)
        )


def _counter(name: str, documentation: str, value: int) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def add_metrics_route(app: web.Application, agent: Agent, access: AccessChecker) -> None:
    """Serve ``agent``'s metrics at ``/metrics`` on ``app`` (the streaming port's)."""
    registry = CollectorRegistry()
    registry.register(AgentCollector(agent))
    node = agent.node_name

    async def metrics(request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization")
        await access.check(authorization, "get", "metrics", "", node, resource="nodes")
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get(PATH, metrics)
