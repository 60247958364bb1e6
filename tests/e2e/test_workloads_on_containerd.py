"""Issue 23's walk-through, as a user runs it: ``navarch up --nodes 2`` on containerd,
driven with the real kubectl. A StatefulSet of 3 writes each pod's ordinal into its
volume and a pod deleted comes back as the same name reading its old data; a
ConfigMap change reaches a running pod's mounted file; a Secret's value reaches env; a
Job of 6 completions at parallelism 2 completes with its failing first attempt
retried; a CronJob every minute makes a Job; a DaemonSet puts a pod on every node,
node-3 joined later included. Then the Kubernetes documentation's own example
manifests for these kinds apply and are acted on: the Job, CronJob, StatefulSet and
DaemonSet examples in examples/, and the copies in tests/fixtures/manifests/k8s-docs
(their changes listed in its README).

Every wait is bounded and generous; nothing is timed."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from navarch.testing.daemon import DaemonProcess, require_or_skip
from navarch.testing.up import ClusterCli, UpProcess
from navarch.testing.waiting import until
from navarch.up.containerd import containerd_problem

pytestmark = pytest.mark.daemon

DOCS = Path(__file__).resolve().parents[1] / "fixtures" / "manifests" / "k8s-docs"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IMAGE = "navarch.test/demo:1"
DEADLINE = 240.0
# A CronJob "* * * * *" runs at the next minute: up to 60 s, plus the controller's
# period and a busy machine.
CRON_DEADLINE = 200.0


class Cluster:
    def __init__(self, up: UpProcess, kubectl: ClusterCli, daemons: dict[str, DaemonProcess]):
        self.up, self.kubectl, self.daemons = up, kubectl, daemons

    def until(self, check: Any, what: str, deadline: float = DEADLINE) -> Any:
        return until(check, what, self.daemons, deadline=deadline)

    def apply(self, manifest: str | Path, *args: str) -> str:
        text = Path(manifest).read_text() if isinstance(manifest, Path) else manifest
        return self.kubectl("apply", *args, "-f", "-", input=text)

    def pod(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        result = self.kubectl.run("get", "pod", name, "-n", namespace, "-o", "json")
        return yaml.safe_load(result.stdout) if result.returncode == 0 else None

    def running(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        pod = self.pod(name, namespace)
        if not pod or pod["metadata"].get("deletionTimestamp"):
            return None
        statuses = pod.get("status", {}).get("containerStatuses") or []
        ready = statuses and all(s.get("ready") for s in statuses)
        return pod if pod["status"].get("phase") == "Running" and ready else None

    def exec(self, pod: str, *command: str, namespace: str = "default") -> str:
        return self.kubectl("exec", "-n", namespace, pod, "--", *command)

    def pods(self, *selector: str, namespace: str = "default") -> list[dict[str, Any]]:
        listed = self.kubectl.json("get", "pods", "-n", namespace, *selector)
        return [p for p in listed["items"] if not p["metadata"].get("deletionTimestamp")]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    require_or_skip(containerd_problem())
    directory = Path(tempfile.mkdtemp(prefix="nw", dir="/tmp"))
    with UpProcess(directory / "up", nodes=2) as up:
        kubectl = ClusterCli.kubectl(up.kubeconfig)
        daemons: dict[str, DaemonProcess] = {"up": up}
        cluster = Cluster(up, kubectl, daemons)
        try:
            cluster.until(lambda: len(_ready_nodes(kubectl)) == 2, "two nodes Ready")
            yield cluster
        finally:
            for name, daemon in daemons.items():
                if name != "up":
                    daemon.stop()


def _ready_nodes(kubectl: ClusterCli) -> list[str]:
    return sorted(
        n["metadata"]["name"]
        for n in kubectl.json("get", "nodes")["items"]
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in n.get("status", {}).get("conditions") or []
        )
    )


# --- the walk-through ------------------------------------------------------------------------

STATEFULSET = f"""
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: counter}}
spec:
  serviceName: counter
  replicas: 3
  selector: {{matchLabels: {{app: counter}}}}
  template:
    metadata: {{labels: {{app: counter}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: {IMAGE}
        command: [sh, -c]
        args:
        - test -f /data/ordinal || echo "written by $(hostname)" > /data/ordinal; sleep 3600
        volumeMounts: [{{name: data, mountPath: /data}}]
  volumeClaimTemplates:
  - metadata: {{name: data}}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {{requests: {{storage: 64Mi}}}}
"""


def test_a_statefulset_pod_comes_back_with_its_name_and_its_data(cluster: Cluster):
    cluster.apply(STATEFULSET)
    for ordinal in range(3):
        cluster.until(lambda o=ordinal: cluster.running(f"counter-{o}"), f"counter-{ordinal}")
    for ordinal in range(3):
        assert cluster.exec(f"counter-{ordinal}", "cat", "/data/ordinal") == (
            f"written by counter-{ordinal}\n"
        )
    claims = cluster.kubectl.json("get", "pvc")["items"]
    bound = {c["metadata"]["name"]: c["status"].get("phase") for c in claims}
    assert {f"data-counter-{o}" for o in range(3)} <= {n for n, p in bound.items() if p == "Bound"}

    old = cluster.pod("counter-1")
    assert old is not None
    cluster.kubectl("delete", "pod", "counter-1", "--wait=false")
    back = cluster.until(
        lambda: (
            (pod := cluster.running("counter-1"))
            and pod["metadata"]["uid"] != old["metadata"]["uid"]
            and pod
        ),
        "counter-1 back as a new pod",
    )
    assert back["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "data-counter-1"
    # the file was not written again: the new pod reads the old pod's data
    assert cluster.exec("counter-1", "cat", "/data/ordinal") == "written by counter-1\n"
    cluster.kubectl("delete", "statefulset", "counter")


CONFIGURED = f"""
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings}}
data: {{greeting: hello}}
---
apiVersion: v1
kind: Secret
metadata: {{name: credentials}}
stringData: {{token: s3cret-value}}
---
apiVersion: v1
kind: Pod
metadata: {{name: configured}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: {IMAGE}
    command: [sleep, "3600"]
    env:
    - name: TOKEN
      valueFrom: {{secretKeyRef: {{name: credentials, key: token}}}}
    volumeMounts: [{{name: settings, mountPath: /etc/settings}}]
  volumes:
  - name: settings
    configMap: {{name: settings}}
"""


def test_a_configmap_change_reaches_the_running_pod_and_a_secret_reaches_env(cluster: Cluster):
    cluster.apply(CONFIGURED)
    pod = cluster.until(lambda: cluster.running("configured"), "pod configured Running")
    assert cluster.exec("configured", "cat", "/etc/settings/greeting") == "hello"
    assert cluster.exec("configured", "sh", "-c", 'echo "$TOKEN"') == "s3cret-value\n"
    # stringData was merged into data and not kept
    secret = cluster.kubectl.json("get", "secret", "credentials")
    assert base64.b64decode(secret["data"]["token"]) == b"s3cret-value"
    assert "stringData" not in secret

    cluster.kubectl("patch", "configmap", "settings", "-p", '{"data":{"greeting":"bonjour"}}')
    cluster.until(
        lambda: cluster.exec("configured", "cat", "/etc/settings/greeting") == "bonjour",
        "the changed ConfigMap in the running pod's file",
    )
    # the same container: changed in place, not restarted
    now = cluster.running("configured")
    assert now is not None and now["metadata"]["uid"] == pod["metadata"]["uid"]
    assert now["status"]["containerStatuses"][0]["restartCount"] == 0
    cluster.kubectl("delete", "pod", "configured", "--wait=false")


JOB = f"""
apiVersion: batch/v1
kind: Job
metadata: {{name: sixfold}}
spec:
  completions: 6
  parallelism: 2
  backoffLimit: 3
  template:
    spec:
      restartPolicy: Never
      volumes: [{{name: marks, hostPath: {{path: MARKS, type: DirectoryOrCreate}}}}]
      containers:
      - name: work
        image: {IMAGE}
        volumeMounts: [{{name: marks, mountPath: /marks}}]
        # the very first attempt of the whole Job fails; every other one succeeds
        command: [sh, -c, "mkdir /marks/first 2>/dev/null && exit 3; echo done"]
"""


def test_a_job_of_six_completions_retries_its_failed_first_attempt(
    cluster: Cluster, tmp_path: Path
):
    marks = tmp_path / "marks"
    cluster.apply(JOB.replace("MARKS", str(marks)))
    job = cluster.until(
        lambda: (
            (j := cluster.kubectl.json("get", "job", "sixfold"))
            and any(
                c["type"] == "Complete" and c["status"] == "True"
                for c in j.get("status", {}).get("conditions") or []
            )
            and j
        ),
        "job sixfold Complete",
    )
    assert job["status"]["succeeded"] == 6
    assert job["status"]["failed"] == 1
    assert (marks / "first").is_dir()
    cluster.kubectl("delete", "job", "sixfold", "--cascade=foreground", "--wait=false")


def test_a_cronjob_every_minute_makes_a_job(cluster: Cluster):
    cluster.apply(EXAMPLES / "cronjob.yaml")
    jobs = cluster.until(
        lambda: [
            j
            for j in cluster.kubectl.json("get", "jobs")["items"]
            if any(o.get("name") == "hello" for o in j["metadata"].get("ownerReferences") or [])
        ],
        "a Job of CronJob hello",
        deadline=CRON_DEADLINE,
    )
    name = jobs[0]["metadata"]["name"]
    assert name.startswith("hello-")
    done = cluster.until(
        lambda: [
            p
            for p in cluster.pods("-l", f"job-name={name}")
            if p["status"].get("phase") == "Succeeded"
        ],
        f"the pod of job {name} Succeeded",
    )
    log = cluster.kubectl("logs", done[0]["metadata"]["name"])
    assert "Hello from the Kubernetes cluster" in log
    cluster.kubectl("delete", "cronjob", "hello")


DAEMONSET = f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: node-agent}}
spec:
  selector: {{matchLabels: {{app: node-agent}}}}
  template:
    metadata: {{labels: {{app: node-agent}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {{name: main, image: {IMAGE}, command: [sleep, "3600"]}}
"""


def test_a_daemonset_runs_on_every_node_and_on_one_joined_later(cluster: Cluster):
    def spread() -> list[str]:
        return sorted(
            p["spec"].get("nodeName", "")
            for p in cluster.pods("-l", "app=node-agent")
            if p["status"].get("phase") == "Running"
        )

    cluster.apply(DAEMONSET)
    cluster.until(lambda: spread() == ["node-1", "node-2"], "a node-agent pod on each node")
    worker = cluster.up.join_agent("node-3").start()
    cluster.daemons["node-3"] = worker
    cluster.until(
        lambda: spread() == ["node-1", "node-2", "node-3"], "a node-agent pod on node-3 too"
    )
    cluster.kubectl("rollout", "status", "daemonset/node-agent", "--timeout=120s", timeout=180)
    cluster.kubectl("delete", "daemonset", "node-agent")
    cluster.until(lambda: not cluster.pods("-l", "app=node-agent"), "node-agent pods gone")


# --- the Kubernetes documentation's manifests ----------------------------------------------


def test_the_documentations_job_and_indexed_job(cluster: Cluster):
    cluster.apply(EXAMPLES / "job.yaml")
    cluster.apply(DOCS / "indexed-job.yaml")
    for job in ("pi", "indexed-job"):
        cluster.until(
            lambda j=job: any(
                c["type"] == "Complete" and c["status"] == "True"
                for c in cluster.kubectl.json("get", "job", j).get("status", {}).get("conditions")
                or []
            ),
            f"job {job} Complete",
        )
    (pi,) = cluster.pods("-l", "job-name=pi")
    assert cluster.kubectl("logs", pi["metadata"]["name"]).startswith("3.14159")
    words = {}
    for pod in cluster.pods("-l", "job-name=indexed-job"):
        if pod["status"].get("phase") == "Succeeded":
            index = pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
            words[index] = cluster.kubectl("logs", pod["metadata"]["name"], "-c", "worker")
    assert words == {"0": "oof\n", "1": "rab\n", "2": "zab\n", "3": "xuq\n", "4": "zyx\n"}
    cluster.kubectl("delete", "job", "pi", "indexed-job")


def test_the_documentations_configmap_secret_and_downward_api_pods(cluster: Cluster):
    for name in ("configmap-configure-pod.yaml", "secret-envars.yaml", "dapi-volume.yaml"):
        cluster.apply(DOCS / name)
    for pod in (
        "configmap-demo-pod",
        "secret-envars-test-pod",
        "kubernetes-downwardapi-volume-example",
    ):
        cluster.until(lambda p=pod: cluster.running(p), f"pod {pod} Running")
    assert cluster.exec("configmap-demo-pod", "sh", "-c", 'echo "$PLAYER_INITIAL_LIVES"') == "3\n"
    assert "player.maximum-lives=5" in cluster.exec(
        "configmap-demo-pod", "cat", "/config/game.properties"
    )
    assert (
        cluster.exec("secret-envars-test-pod", "sh", "-c", 'echo "$SECRET_USERNAME"') == "my-app\n"
    )
    assert (
        cluster.exec("secret-envars-test-pod", "sh", "-c", 'echo "$SECRET_PASSWORD"')
        == "39528$vdg7Jb\n"
    )
    labels = cluster.exec("kubernetes-downwardapi-volume-example", "cat", "/etc/podinfo/labels")
    assert 'rack="rack-22"' in labels and 'zone="us-est-coast"' in labels
    cluster.kubectl(
        "delete",
        "pod",
        "configmap-demo-pod",
        "secret-envars-test-pod",
        "kubernetes-downwardapi-volume-example",
        "--wait=false",
    )


def test_the_documentations_persistent_volume_task(cluster: Cluster, tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "index.html").write_text("Hello from Kubernetes storage\n")
    cluster.apply((DOCS / "pv-pod.yaml").read_text().replace('"/mnt/data"', f'"{data}"'))
    cluster.until(lambda: cluster.running("task-pv-pod"), "pod task-pv-pod Running")
    claim = cluster.kubectl.json("get", "pvc", "task-pv-claim")
    assert claim["status"]["phase"] == "Bound"
    assert claim["spec"]["volumeName"] == "task-pv-volume"
    assert cluster.exec("task-pv-pod", "cat", "/usr/share/nginx/html/index.html") == (
        "Hello from Kubernetes storage\n"
    )
    cluster.kubectl("delete", "pod", "task-pv-pod", "--wait=false")


def test_the_documentations_statefulset_and_daemonset(cluster: Cluster):
    cluster.apply(EXAMPLES / "statefulset.yaml")
    cluster.apply(EXAMPLES / "daemonset.yaml")
    for ordinal in range(3):
        cluster.until(lambda o=ordinal: cluster.running(f"web-{o}"), f"web-{ordinal} Running")
    nodes = sorted(_ready_nodes(cluster.kubectl))
    cluster.until(
        lambda: (
            sorted(
                p["spec"].get("nodeName", "")
                for p in cluster.pods("-l", "name=fluentd-elasticsearch", namespace="kube-system")
                if p["status"].get("phase") == "Running"
            )
            == nodes
        ),
        "a fluentd-elasticsearch pod on every node",
    )
    cluster.kubectl("rollout", "status", "statefulset/web", "--timeout=120s", timeout=180)
    cluster.kubectl("delete", "statefulset", "web")
    cluster.kubectl("delete", "daemonset", "fluentd-elasticsearch", "-n", "kube-system")
