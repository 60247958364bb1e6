"""What the examples' tests share: where the examples are, a sim agent whose crash
loops turn fast, and reading kubectl's pod table the way a user does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import Kubectl, sim_agent_process
from navarch.testing.navarchprocess import NavarchProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def fast_sim_agent(
    root: Path, server: ApiServerProcess, *, labels: dict[str, str] | None = None, **kwargs: Any
) -> NavarchProcess:
    """An agent on the simulated runtime whose restart back-off starts at 1 s (10 s by
    default), so a crash loop shows restarts soon; ``labels`` for the Nodes it runs."""
    process = sim_agent_process(root, server, lease_renew_seconds=1, **kwargs)
    process.config["agent"]["backoff_initial_seconds"] = 1
    if labels:
        process.config["agent"]["labels"] = labels
    return process


def pod_rows(kubectl: Kubectl, *selector: str) -> list[dict[str, str]]:
    """``kubectl get pods`` as a user reads it: NAME, READY, STATUS, RESTARTS (the count
    only, without "(5s ago)") per pod."""
    rows = []
    for line in kubectl("get", "pods", "--no-headers", *selector).splitlines():
        name, ready, status, restarts, *_ = line.split()
        rows.append({"name": name, "ready": ready, "status": status, "restarts": restarts})
    return rows
