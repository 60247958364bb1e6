"""End to end, issue 24's "Done when": pod networking, Services and DNS on a
``navarch up`` cluster on containerd, driven the way a user drives it — the real
kubectl with up's kubeconfig, ``kubectl exec`` into busybox pods for wget and
nslookup.

One cluster for the whole module: ``navarch up --nodes 2`` (node-1, node-2) and
node-3, a ``navarch join`` process in a network namespace of its own on the same LAN.
node-3 is the node the failure check kills: up starts its own nodes' agents again
within seconds of their exit (a SIGKILLed agent of up's is back before its node could
go NotReady), a joined agent is not. Each node is a network namespace with the CNI
plugin, the nftables Service proxy, the node's DNS server and the NetworkPolicy
enforcer (``navarch up`` turns them on when installed); nothing is made in the host's
network namespace, which the last check compares before and after ``navarch down
--purge``. The checks run in the file's order on the one cluster: the node failure and
``navarch down`` come last.

Times are printed, never asserted; every wait is bounded.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from navarch.testing.daemon import require_or_skip
from navarch.testing.up import ClusterCli, UpProcess
from navarch.testing.waiting import until, until_passes
from navarch.up import network
from navarch.up.containerd import alive, containerd_problem
from navarch.up.join import PID_FILE, worker_dir

pytestmark = pytest.mark.daemon

NS = "netcheck"
NODES = ("node-1", "node-2", "node-3")
IMAGE = "navarch.test/demo:1"  # busybox with httpd, wget, nslookup, timeout: up loads it
DEADLINE = 240.0
# an exec'd wget's own bound: busybox-static's `wget -T` segfaults
WGET_SECONDS = 5
# the failure loop: each request bounded by this, the loop by count and by time
LOOP_REQUEST_SECONDS = 2
LOOP_MAX_REQUESTS = 1500
LOOP_MAX_SECONDS = 420
# consecutive answers, after the dead node's endpoint was dropped, that show the
# failures have stopped
CLEAN_RUN = 20
# node-lifecycle looks at nodes every second (the grace stays the default, 15 s)
SETTINGS = {"controllers": {"options": {"node-lifecycle": {"node_monitor_period_seconds": 1.0}}}}


# ---- the host's network, compared before and after ------------------------------


def host_links() -> list[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split(":")[1].strip() for line in out.splitlines())


def host_routes() -> str:
    return subprocess.run(
        ["ip", "route", "show", "table", "all"], capture_output=True, text=True, check=True
    ).stdout


def host_nft_tables() -> str:
    return subprocess.run(
        ["nft", "list", "tables"], capture_output=True, text=True, check=True
    ).stdout


def host_network() -> tuple[list[str], str, str]:
    return host_links(), host_routes(), host_nft_tables()


# ---- the manifests -----------------------------------------------------------------

# httpd answering with the pod's hostname (its name); sh is the first process and
# passes the stop on (busybox sh ignores SIGTERM otherwise)
SERVE = (
    "mkdir -p /tmp/www; hostname > /tmp/www/index.html; "
    "httpd -f -p 8080 -h /tmp/www & pid=$!; "
    'trap "kill $pid; exit 0" TERM INT; wait $pid'
)
IDLE = 'trap "exit 0" TERM INT; sleep 3600 & wait'
SERVE_TWO_PORTS = (
    "mkdir -p /tmp/www; hostname > /tmp/www/index.html; "
    "httpd -f -p 8080 -h /tmp/www & a=$!; httpd -f -p 9090 -h /tmp/www & b=$!; "
    'trap "kill $a $b; exit 0" TERM INT; wait $a'
)
POLICY_NS = "policycheck"


def container(command: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "main",
        "image": IMAGE,
        "command": ["sh", "-c", command],
        "resources": {"requests": {"cpu": "10m", "memory": "8Mi"}},
        **extra,
    }


def web_container(ready: list[str] | None = None) -> dict[str, Any]:
    probe: dict[str, Any] = (
        {"exec": {"command": ready}} if ready else {"httpGet": {"path": "/", "port": "http"}}
    )
    return container(
        SERVE,
        ports=[{"name": "http", "containerPort": 8080}],
        readinessProbe={**probe, "periodSeconds": 1},
    )


def service(name: str, selector: dict[str, str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "selector": selector,
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
            **spec,
        },
    }


def pod(
    name: str, node: str, labels: dict[str, str], main: dict[str, Any], namespace: str = NS
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 2, "containers": [main]},
    }


def manifests() -> list[dict[str, Any]]:
    """web: 3 replicas (the scheduler spreads one owner's pods over the nodes) behind
    a NodePort Service and a headless one; lame: a pod that serves but is never Ready,
    the headless Service's too (tier web) and the only pod of Service lame; solo: one
    pod on node-1 behind a NodePort Service; a client pod on every node."""
    web_labels = {"app": "web", "tier": "web"}
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": NS},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": web_labels},
                    "spec": {"terminationGracePeriodSeconds": 2, "containers": [web_container()]},
                },
            },
        },
        service("web", {"app": "web"}, type="NodePort"),
        service("web-headless", {"tier": "web"}, clusterIP="None"),
        pod("lame", "node-2", {"app": "lame", "tier": "web"}, web_container(ready=["false"])),
        service("lame", {"app": "lame"}),
        pod("solo", "node-1", {"app": "solo"}, web_container()),
        service("solo", {"app": "solo"}, type="NodePort"),
        *(pod(f"client-{node}", node, {"app": "client"}, container(IDLE)) for node in NODES),
        # the policy check's namespace: a server on two ports, on node-1; a client
        # the allow rule names on node-2, another one beside the server on node-1
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": POLICY_NS}},
        pod("guarded", "node-1", {"app": "guarded"}, container(SERVE_TWO_PORTS), POLICY_NS),
        pod("allowed", "node-2", {"role": "client"}, container(IDLE), POLICY_NS),
        pod("other", "node-1", {"role": "other"}, container(IDLE), POLICY_NS),
    ]


# ---- the cluster -------------------------------------------------------------------


@attrs.define
class Cluster:
    up: UpProcess
    kubectl: ClusterCli
    joined: subprocess.Popen[bytes]
    prefix: str
    cluster_id: str
    host_before: tuple[list[str], str, str]

    @property
    def daemons(self) -> dict[str, UpProcess]:
        return {"up": self.up}

    def node_address(self, node: str) -> str:
        return f"10.250.0.{NODES.index(node) + 1}"

    def exec(
        self, pod: str, *command: str, timeout: float = 60.0, namespace: str = NS
    ) -> subprocess.CompletedProcess[str]:
        return self.kubectl.run("exec", "-n", namespace, pod, "--", *command, timeout=timeout)

    def wget(self, pod: str, url: str, namespace: str = NS) -> subprocess.CompletedProcess[str]:
        return self.exec(
            pod, "timeout", str(WGET_SECONDS), "wget", "-q", "-O", "-", url, namespace=namespace
        )

    def from_lan(self, url: str) -> str | None:
        """GET ``url`` from the cluster's LAN namespace (outside every node, as a
        machine on the nodes' network): the page, or None."""
        result = subprocess.run(
            ["nsenter", f"--net=/run/netns/{self.prefix}lan",
             "timeout", str(WGET_SECONDS), "busybox", "wget", "-q", "-O", "-", url],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return result.stdout.strip() if result.returncode == 0 else None

    def pods(self, selector: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.kubectl.json("get", "pods", "-n", NS, "-l", selector)[
            "items"
        ]
        return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def node_ready(kubectl: ClusterCli, name: str) -> bool:
    node = kubectl.json("get", "node", name)
    return any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in node.get("status", {}).get("conditions", [])
    )


def join(up: UpProcess, name: str) -> subprocess.Popen[bytes]:
    """``navarch join NAME``: a node process of its own in a namespace on up's LAN."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    with open(up.directory / f"join-{name}.log", "ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "navarch.cli.navarch", "--config", str(up.config_path),
             "join", name],
            stdout=output, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    require_or_skip(containerd_problem() or network.possible())
    before = host_network()
    up = UpProcess(tmp_path_factory.mktemp("net") / "up", nodes=2, settings=SETTINGS)
    joined: subprocess.Popen[bytes] | None = None
    with up:
        try:
            cluster_id = network.cluster_id(up.data_dir)
            joined = join(up, "node-3")
            kubectl = ClusterCli.kubectl(up.kubeconfig)
            until(
                lambda: (
                    all(node_ready(kubectl, n) for n in NODES)
                    if len(kubectl.json("get", "nodes")["items"]) == 3
                    else None
                ),
                "three nodes Ready",
                [up],
                deadline=DEADLINE,
            )
            kubectl("apply", "-f", "-", input=yaml.safe_dump_all(manifests()))
            yield Cluster(
                up, kubectl, joined, network.cluster_prefix(cluster_id), cluster_id, before
            )
        finally:
            if joined is not None and joined.poll() is None:
                joined.terminate()
                joined.wait(timeout=60)


@pytest.fixture(scope="module")
def web(cluster: Cluster) -> dict[str, dict[str, Any]]:
    """The web pods by node, once all are Ready (one on each node) and every client
    runs."""
    pods = until(
        lambda: (p := cluster.pods("app=web")) and len(p) == 3 and all(map(ready, p)) and p,
        "3 web pods Ready",
        cluster.daemons,
        deadline=DEADLINE,
    )
    spread = collections.Counter(p["spec"]["nodeName"] for p in pods)
    assert spread == dict.fromkeys(NODES, 1), spread
    until(
        lambda: (c := cluster.pods("app=client")) and len(c) == 3
        and all(p.get("status", {}).get("phase") == "Running" for p in c),
        "a client pod Running on every node",
        cluster.daemons,
        deadline=DEADLINE,
    )  # fmt: skip
    return {p["spec"]["nodeName"]: p for p in pods}


def answers(cluster: Cluster, client: str, url: str) -> str | None:
    result = cluster.wget(client, url)
    return result.stdout.strip() if result.returncode == 0 else None


# ---- the checks --------------------------------------------------------------------


def test_service_name_answers_from_every_node_and_spreads(cluster: Cluster, web):
    names = {p["metadata"]["name"] for p in web.values()}
    for node in NODES:
        client = f"client-{node}"
        for url in (f"http://web.{NS}.svc.cluster.local/", "http://web/"):
            page = until(
                lambda url=url, client=client: answers(cluster, client, url),
                f"{url} from {client}",
                cluster.daemons,
                deadline=DEADLINE,
            )
            assert page in names, (url, client, page)
    # a bounded loop of requests in one exec: more than one replica answers
    loop = (
        f"for i in $(seq 30); do timeout {WGET_SECONDS} wget -q -O - http://web/ "
        "|| echo failed; done"
    )
    result = cluster.exec("client-node-1", "sh", "-c", loop, timeout=300)
    assert result.returncode == 0, result.stderr
    seen = collections.Counter(result.stdout.split())
    assert set(seen) <= names, seen
    assert len(seen) > 1, seen
    print(f"\n30 requests to http://web/ from node-1: {dict(seen)}")


def test_node_port_answers_on_every_node_address(cluster: Cluster, web):
    services = {
        s["metadata"]["name"]: s for s in cluster.kubectl.json("get", "svc", "-n", NS)["items"]
    }
    web_port = services["web"]["spec"]["ports"][0]["nodePort"]
    solo_port = services["solo"]["spec"]["ports"][0]["nodePort"]
    names = {p["metadata"]["name"] for p in web.values()}
    for node in NODES:
        address = cluster.node_address(node)
        page = until(
            lambda address=address: cluster.from_lan(f"http://{address}:{web_port}/"),
            f"web's NodePort on {node} ({address}:{web_port})",
            cluster.daemons,
            deadline=DEADLINE,
        )
        assert page in names
        # solo runs on node-1 only: node-2 and node-3 forward to it
        page = until(
            lambda address=address: cluster.from_lan(f"http://{address}:{solo_port}/"),
            f"solo's NodePort on {node} ({address}:{solo_port})",
            cluster.daemons,
            deadline=DEADLINE,
        )
        assert page == "solo"
    assert cluster.pods("app=solo")[0]["spec"]["nodeName"] == "node-1"


def nslookup_addresses(cluster: Cluster, client: str, name: str) -> set[str] | None:
    """The addresses ``nslookup NAME`` prints for the name's A records (after the
    server's own lines), or None when it printed none. Its exit code is not looked at:
    busybox's nslookup also asks for AAAA through the search path, and exits 1 for
    the NXDOMAIN answers of those."""
    result = cluster.exec(client, "timeout", str(WGET_SECONDS), "nslookup", name)
    _, _, answer = result.stdout.partition("\nName:")
    found = {
        line.split(":", 1)[1].strip() for line in answer.splitlines() if line.startswith("Address")
    }
    return found or None


def test_headless_name_is_the_ready_pods_and_no_ready_endpoint_refuses(cluster: Cluster, web):
    expected = {p["status"]["podIP"] for p in web.values()}
    lame = until(
        lambda: (p := cluster.pods("app=lame")) and p[0].get("status", {}).get("podIP") and p[0],
        "the never-ready pod has an address",
        cluster.daemons,
        deadline=DEADLINE,
    )
    assert not ready(lame)
    name = f"web-headless.{NS}.svc.cluster.local"
    got = until(
        lambda: (a := nslookup_addresses(cluster, "client-node-1", name)) == expected and a,
        f"nslookup {name} lists the 3 ready web pods",
        cluster.daemons,
        deadline=DEADLINE,
    )
    assert lame["status"]["podIP"] not in got
    print(f"\nnslookup {name}: {sorted(got)}")

    # lame's only endpoint is not ready: its ClusterIP refuses at once
    def refused() -> str:
        result = cluster.wget("client-node-3", "http://lame/")
        output = result.stdout + result.stderr
        assert result.returncode != 0 and "Connection refused" in output, output
        return output

    print(f"http://lame/: {until_passes(refused, 'lame refuses', cluster.daemons).strip()}")


def policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": POLICY_NS},
        "spec": spec,
    }


def test_network_policy_default_deny_then_one_allowed_port_and_source(cluster: Cluster, web):
    pods = until(
        lambda: (
            (p := cluster.kubectl.json("get", "pods", "-n", POLICY_NS)["items"])
            and len(p) == 3
            and all(x.get("status", {}).get("podIP") for x in p)
            and all(x.get("status", {}).get("phase") == "Running" for x in p)
            and {x["metadata"]["name"]: x for x in p}
        ),
        "the policy check's pods Running",
        cluster.daemons,
        deadline=DEADLINE,
    )
    server = pods["guarded"]["status"]["podIP"]
    # (client pod, its namespace): the allow rule's source, a pod of the namespace
    # beside the server on node-1, a pod of another namespace on node-3
    allowed, other, outsider = ("allowed", POLICY_NS), ("other", POLICY_NS), ("client-node-3", NS)

    def get(client: tuple[str, str], port: int) -> subprocess.CompletedProcess[str]:
        return cluster.wget(client[0], f"http://{server}:{port}/", namespace=client[1])

    def answered(client: tuple[str, str], port: int) -> str:
        result = get(client, port)
        assert result.returncode == 0 and result.stdout.strip() == "guarded", result
        return result.stdout

    def blocked(client: tuple[str, str], port: int) -> str:
        # rejected at once (ICMP admin-prohibited), not left to time out
        result = get(client, port)
        output = result.stdout + result.stderr
        assert result.returncode != 0 and "No route to host" in output, (client, port, output)
        return output

    # before any policy every client reaches both ports
    for client in (allowed, other, outsider):
        for port in (8080, 9090):
            until_passes(lambda c=client, p=port: answered(c, p), f"{client[0]} -> :{port}",
                         cluster.daemons, deadline=DEADLINE)  # fmt: skip

    deny = policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(deny))
    for client in (allowed, other, outsider):
        until_passes(lambda c=client: blocked(c, 8080), f"default deny blocks {client[0]}",
                     cluster.daemons, deadline=DEADLINE)  # fmt: skip

    allow = policy(
        "allow-client-8080",
        {
            "podSelector": {"matchLabels": {"app": "guarded"}},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                    "ports": [{"protocol": "TCP", "port": 8080}],
                }
            ],
        },
    )
    cluster.kubectl("apply", "-f", "-", input=yaml.safe_dump(allow))
    until_passes(lambda: answered(allowed, 8080), "the allowed source on the allowed port",
                 cluster.daemons, deadline=DEADLINE)  # fmt: skip
    # exactly its port and its source (the table that opened it is the one applied)
    blocked(allowed, 9090)
    for client in (other, outsider):
        for port in (8080, 9090):
            blocked(client, port)


def uptime() -> float:
    """The kernel's clock that the pods' /proc/uptime shows too."""
    return float(Path("/proc/uptime").read_text().split()[0])


class RequestLoop:
    """A client pod calling a URL in a bounded loop (count and time) in one exec, each
    request bounded too; its lines ``<uptime> ok <answer>`` / ``<uptime> fail`` are
    collected as they come."""

    def __init__(self, cluster: Cluster, client: str, url: str):
        script = (
            f"i=0; while [ $i -lt {LOOP_MAX_REQUESTS} ] && [ ! -e /tmp/stop ]; do i=$((i+1)); "
            "t=$(cut -d' ' -f1 /proc/uptime); "
            f"if r=$(timeout {LOOP_REQUEST_SECONDS} wget -q -O - {url} 2>/dev/null); "
            'then echo "$t ok $r"; else echo "$t fail"; fi; usleep 200000; done'
        )
        self.cluster, self.client = cluster, client
        self.lines: list[tuple[float, bool, str]] = []
        self.process = subprocess.Popen(
            [*cluster.kubectl.command, "--kubeconfig", str(cluster.kubectl.kubeconfig),
             "exec", "-n", NS, client, "--",
             "timeout", str(LOOP_MAX_SECONDS), "sh", "-c", "rm -f /tmp/stop; " + script],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            words = line.split()
            if len(words) >= 2:
                self.lines.append((float(words[0]), words[1] == "ok", " ".join(words[2:])))

    def oks_after(self, moment: float) -> list[tuple[float, bool, str]]:
        """The results since ``moment``'s last failure, if it was after it."""
        tail: list[tuple[float, bool, str]] = []
        for line in reversed(list(self.lines)):
            if line[0] < moment or not line[1]:
                break
            tail.append(line)
        return tail[::-1]

    def stop(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.cluster.exec(self.client, "touch", "/tmp/stop")
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(timeout=10)


def slice_serves(cluster: Cluster, address: str) -> bool:
    """Whether one of web's EndpointSlices has ``address`` as a ready endpoint."""
    slices = cluster.kubectl.json(
        "get", "endpointslices", "-n", NS, "-l", "kubernetes.io/service-name=web"
    )["items"]
    return any(
        address in endpoint.get("addresses", [])
        and (endpoint.get("conditions") or {}).get("ready") is not False
        for s in slices
        for endpoint in s.get("endpoints") or []
    )


def test_a_dead_node_stops_failing_requests_after_the_grace(cluster: Cluster, web):
    dead = web["node-3"]
    dead_ip, dead_name = dead["status"]["podIP"], dead["metadata"]["name"]
    cluster_ip = cluster.kubectl.json("get", "svc", "-n", NS, "web")["spec"]["clusterIP"]
    until(lambda: slice_serves(cluster, dead_ip), "node-3's web pod served", cluster.daemons)
    loop = RequestLoop(cluster, "client-node-1", f"http://{cluster_ip}/")
    try:
        until(
            lambda: sum(ok for _, ok, _ in loop.lines) >= 3,
            "the loop's first answers",
            cluster.daemons,
            deadline=DEADLINE,
        )
        # node-3 dies: its agent (the join process, recorded by pid) SIGKILLed and its
        # pods' network cut (the node namespace's link to the LAN down)
        pid = int((worker_dir(cluster.up.data_dir, "node-3") / PID_FILE).read_text())
        assert pid == cluster.joined.pid
        killed = uptime()
        os.kill(pid, signal.SIGKILL)
        subprocess.run(
            ["ip", "-n", f"{cluster.prefix}node-3", "link", "set", "eth0", "down"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        cluster.joined.wait(timeout=30)
        until(lambda: not node_ready(cluster.kubectl, "node-3"), "node-3 NotReady",
              cluster.daemons, deadline=DEADLINE, every=0.5)  # fmt: skip
        not_ready = uptime()
        until(lambda: not slice_serves(cluster, dead_ip), "node-3's pod no longer served",
              cluster.daemons, deadline=DEADLINE, every=0.5)  # fmt: skip
        dropped = uptime()
        clean = until(
            lambda: (tail := loop.oks_after(dropped)) and len(tail) >= CLEAN_RUN and tail,
            f"{CLEAN_RUN} answers in a row after node-3's endpoint was dropped",
            cluster.daemons,
            deadline=DEADLINE,
        )
    finally:
        loop.stop()
    # the failures stopped: the loop's last answers in a row came from live replicas
    # (node-1's and node-2's, or a replacement of node-3's once its pod was evicted)
    assert all(answer.startswith("web-") and answer != dead_name for _, _, answer in clean), clean
    failures = [t for t, ok, _ in loop.lines if not ok]
    window = (failures[-1] + LOOP_REQUEST_SECONDS - killed) if failures else 0.0
    print(
        f"\nnode-3 killed: {len(loop.lines)} requests, {len(failures)} failed; "
        f"NotReady after {not_ready - killed:.1f} s, endpoint dropped after "
        f"{dropped - killed:.1f} s; failure window {window:.1f} s "
        f"(first failure at {failures[0] - killed:.1f} s)"
        if failures
        else f"\nnode-3 killed: {len(loop.lines)} requests, none failed; NotReady after "
        f"{not_ready - killed:.1f} s, endpoint dropped after {dropped - killed:.1f} s"
    )


def test_down_purge_leaves_the_host_as_it_was(cluster: Cluster):
    cluster.up.stop(timeout=60.0)
    result = cluster.up.down()
    assert result.returncode == 0, result.stderr
    assert network.namespaces(cluster.cluster_id) == []
    assert not alive(cluster.joined.pid)
    assert host_network() == cluster.host_before
