"""Labels every sandbox and container carries, so that an agent started later (after
a crash, an upgrade, a SIGKILL) finds what already runs and adopts it instead of
starting duplicates. The agent sets them; a runtime stores them verbatim and returns
them in every status and list (and filters on them in ``list_*``)."""

from __future__ import annotations

from collections.abc import Mapping

PREFIX = "navarch.io/"
MANAGED = PREFIX + "managed"  # "true" on everything Navarch created
KIND = PREFIX + "kind"  # "sandbox" or "container"
NODE = PREFIX + "node"
POD_NAME = PREFIX + "pod-name"
POD_NAMESPACE = PREFIX + "pod-namespace"
POD_UID = PREFIX + "pod-uid"
CONTAINER_NAME = PREFIX + "container-name"
RESTART_COUNT = PREFIX + "restart-count"  # the container's attempt, 0 first
CONTAINER_HASH = PREFIX + "container-hash"  # the agent's digest of the container's spec

SANDBOX, CONTAINER = "sandbox", "container"


def pod_labels(node: str, namespace: str, name: str, uid: str) -> dict[str, str]:
    return {
        MANAGED: "true",
        NODE: node,
        POD_NAMESPACE: namespace,
        POD_NAME: name,
        POD_UID: uid,
    }


def sandbox_labels(node: str, namespace: str, name: str, uid: str) -> dict[str, str]:
    return {**pod_labels(node, namespace, name, uid), KIND: SANDBOX}


def container_labels(
    node: str, namespace: str, name: str, uid: str, container: str, attempt: int
) -> dict[str, str]:
    return {
        **pod_labels(node, namespace, name, uid),
        KIND: CONTAINER,
        CONTAINER_NAME: container,
        RESTART_COUNT: str(attempt),
    }


def matches(labels: Mapping[str, str], wanted: Mapping[str, str] | None) -> bool:
    """Whether ``labels`` has every key/value of ``wanted`` (None or empty: all match)."""
    return not wanted or all(labels.get(k) == v for k, v in wanted.items())
