"""navctl's resource verbs (get, apply, create, describe, label, annotate, scale,
delete) against a real API server process, run in-process through
``navarch.cli.navctl.main``; tables compared with what the real kubectl prints.

No scheduler or controllers run here: objects stay as written, which keeps the
output stable (the cluster module covers running pods)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from navarch.cli.navctl import main
from navarch.testing.apiserver import ApiServerProcess
from navarch.testing.cluster import Kubectl
from navarch.testing.daemon import free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with ApiServerProcess(tmp_path_factory.mktemp("navctl-apiserver")) as server:
        yield server


class Navctl:
    """navctl in-process against the test server, in the test's own namespace."""

    def __init__(self, capsys: pytest.CaptureFixture[str], kubeconfig: Path, ns: str):
        self.capsys, self.kubeconfig, self.ns = capsys, kubeconfig, ns

    def run(self, *args: str) -> tuple[int, str, str]:
        self.capsys.readouterr()
        code = main([*args, "--kubeconfig", str(self.kubeconfig), "-n", self.ns])
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def __call__(self, *args: str) -> str:
        code, out, err = self.run(*args)
        assert code == 0, f"navctl {' '.join(args)} exited {code}: {err}"
        return out


@pytest.fixture
def navctl(server, capsys) -> Navctl:
    tool = Navctl(capsys, server.kubeconfig, f"t-{uuid.uuid4().hex[:8]}")
    tool("create", "namespace", tool.ns)
    return tool


def deployment(name: str, replicas: int = 2, image: str = "127.0.0.1:5000/web:1") -> dict:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    }


def pod(name: str, **metadata) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}, **metadata},
        "spec": {"containers": [{"name": "app", "image": "127.0.0.1:5000/web:1"}]},
    }


def manifest(path: Path, *objects: dict) -> str:
    path.write_text(yaml.safe_dump_all(objects))
    return str(path)


# --- apply and create -----------------------------------------------------------------------


def test_apply_creates_then_is_unchanged_then_configured(navctl, tmp_path):
    file = manifest(tmp_path / "web.yaml", deployment("web"), pod("solo"))
    assert navctl("apply", "-f", file) == "deployment.apps/web created\npod/solo created\n"
    assert navctl("apply", "-f", file) == "deployment.apps/web unchanged\npod/solo unchanged\n"
    manifest(tmp_path / "web.yaml", deployment("web", replicas=3), pod("solo"))
    assert navctl("apply", "-f", file) == "deployment.apps/web configured\npod/solo unchanged\n"
    shown = json.loads(navctl("get", "deploy", "web", "-o", "json"))
    assert shown["spec"]["replicas"] == 3
    assert shown["metadata"]["namespace"] == navctl.ns  # -n filled in


def test_apply_reads_a_directory_and_stdin(navctl, tmp_path, monkeypatch):
    manifest(tmp_path / "a.yaml", pod("a"))
    manifest(tmp_path / "b.yml", pod("b"))
    assert navctl("apply", "-f", str(tmp_path)) == "pod/a created\npod/b created\n"
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(yaml.safe_dump(pod("c"))))
    assert navctl("apply", "-f", "-") == "pod/c created\n"


def test_apply_namespace_conflict_is_refused_before_anything_is_written(navctl, tmp_path):
    file = manifest(tmp_path / "x.yaml", pod("first"), pod("other", namespace="elsewhere"))
    code, out, err = navctl.run("apply", "-f", file)
    assert code == 1 and out == ""
    assert 'x.yaml (document 2): the namespace from the provided object "elsewhere"' in err
    assert "--namespace=elsewhere" in err
    code, _, err = navctl.run("get", "pod", "first")
    assert code == 1 and "NotFound" in err


def test_apply_bad_input_names_the_file_and_document(navctl, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(pod("ok")) + "---\nspec: [unclosed\n")
    code, _, err = navctl.run("apply", "-f", str(bad))
    assert code == 1 and "bad.yaml (document 2): invalid YAML at line" in err
    service = manifest(
        tmp_path / "svc.yaml",
        {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "s"}},
    )
    code, _, err = navctl.run("apply", "-f", service)
    assert code == 1 and 'no matches for kind "ReplicationController" in version "v1"' in err
    code, _, err = navctl.run("apply", "-f", str(tmp_path / "missing.yaml"))
    assert code == 1 and 'missing.yaml" does not exist' in err


def test_apply_invalid_object_reports_the_servers_reason(navctl, tmp_path):
    broken = pod("broken")
    broken["spec"]["containers"][0]["image"] = ""
    code, _, err = navctl.run("apply", "-f", manifest(tmp_path / "p.yaml", broken))
    assert code == 1
    assert err.startswith("Error from server (Invalid): ")
    assert "p.yaml (document 1)" in err


def test_create_refuses_an_existing_object_as_kubectl(navctl, tmp_path):
    file = manifest(tmp_path / "p.yaml", pod("dup"))
    assert navctl("create", "-f", file) == "pod/dup created\n"
    code, _, err = navctl.run("create", "-f", file)
    assert code == 1
    assert 'Error from server (AlreadyExists): pods "dup" already exists' in err


def test_create_deployment_and_namespace(navctl):
    out = navctl(
        "create",
        "deployment",
        "api",
        "--image=127.0.0.1:5000/team/api:2",
        "--replicas",
        "3",
        "--port",
        "80",
    )
    assert out == "deployment.apps/api created\n"
    created = json.loads(navctl("get", "deployment/api", "-o", "json"))
    assert created["spec"]["replicas"] == 3
    assert created["spec"]["template"]["spec"]["containers"][0]["name"] == "api"
    name = f"{navctl.ns}-extra"
    assert navctl("create", "namespace", name) == f"namespace/{name} created\n"


# --- get ------------------------------------------------------------------------------------


def test_get_columns_match_kubectl(navctl, server, tmp_path):
    navctl("apply", "-f", manifest(tmp_path / "m.yaml", deployment("web"), pod("solo")))
    kubectl = Kubectl(server.kubeconfig)
    for args in (
        ("get", "pods"),
        ("get", "deploy", "-o", "wide"),
        ("get", "pods", "--show-labels"),
        ("get", "all"),
        ("get", "pod", "solo", "-o", "name"),
    ):
        ours = navctl(*args)
        theirs = kubectl(*args, "-n", navctl.ns)
        assert _without_ages(ours) == _without_ages(theirs), args


def _without_ages(text: str) -> list[list[str]]:
    """Rows split on whitespace without the AGE cell (a second may pass between runs)."""
    return [[c for c in line.split() if not c[:-1].isdigit()] for line in text.splitlines()]


def test_get_all_namespaces_adds_the_namespace_column(navctl, tmp_path):
    navctl("apply", "-f", manifest(tmp_path / "p.yaml", pod("here")))
    out = navctl("get", "pods", "-A", "-l", "app=here")
    header, row = out.splitlines()
    assert header.split()[:2] == ["NAMESPACE", "NAME"]
    assert row.split()[:2] == [navctl.ns, "here"]


def test_get_selectors_and_output_formats(navctl, tmp_path):
    navctl("apply", "-f", manifest(tmp_path / "p.yaml", pod("a"), pod("b")))
    assert navctl("get", "pods", "-l", "app=a", "-o", "name") == "pod/a\n"
    assert navctl("get", "pods", "--field-selector", "metadata.name=b", "-o", "name") == "pod/b\n"
    listed = yaml.safe_load(navctl("get", "pods", "-o", "yaml"))
    assert listed["kind"] == "List"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["a", "b"]
    assert all(i["kind"] == "Pod" for i in listed["items"])
    single = yaml.safe_load(navctl("get", "pod", "a", "-o", "yaml"))
    assert single["kind"] == "Pod" and "managedFields" not in single["metadata"]


def test_get_nothing_says_so_on_stderr(navctl):
    code, out, err = navctl.run("get", "pods")
    assert (code, out) == (0, "")
    assert err == f"No resources found in {navctl.ns} namespace.\n"


def test_get_missing_name_and_unknown_type(navctl):
    code, _, err = navctl.run("get", "pods", "ghost")
    assert code == 1 and err == 'Error from server (NotFound): pods "ghost" not found\n'
    code, _, err = navctl.run("get", "widgets")
    assert code == 1
    assert 'doesn\'t have a resource type "widgets"' in err
    assert "deployments (deploy)" in err


def test_unreachable_server_says_the_address_and_how_to_start_one(tmp_path, capsys):
    port = free_port()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c"}}],
        "current-context": "c",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    code = main(["get", "pods", "--kubeconfig", str(path)])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot reach https://127.0.0.1:{port}" in err
    assert "navarch up" in err


# --- label, annotate, scale ----------------------------------------------------------------------


def test_label_and_annotate_as_kubectl(navctl, tmp_path):
    navctl("apply", "-f", manifest(tmp_path / "p.yaml", pod("web")))
    assert navctl("label", "pod", "web", "tier=front") == "pod/web labeled\n"
    code, _, err = navctl.run("label", "pod", "web", "tier=back")
    assert code == 1
    assert "'tier' already has a value (front), and --overwrite is false" in err
    assert navctl("label", "pod/web", "tier=back", "--overwrite") == "pod/web labeled\n"
    assert navctl("get", "pods", "-l", "tier=back", "-o", "name") == "pod/web\n"
    assert navctl("label", "pod", "web", "tier-") == "pod/web labeled\n"
    assert navctl("label", "pod", "web", "tier-") == "pod/web not labeled\n"
    assert navctl("annotate", "pod", "web", "owner=team-a") == "pod/web annotated\n"
    shown = json.loads(navctl("get", "pod", "web", "-o", "json"))
    assert "tier" not in shown["metadata"]["labels"]
    assert shown["metadata"]["annotations"]["owner"] == "team-a"


def test_scale_deployment_and_refuse_pods(navctl, tmp_path):
    navctl("apply", "-f", manifest(tmp_path / "d.yaml", deployment("web"), pod("p")))
    assert navctl("scale", "deploy", "web", "--replicas=5") == "deployment.apps/web scaled\n"
    assert json.loads(navctl("get", "deploy", "web", "-o", "json"))["spec"]["replicas"] == 5
    code, _, err = navctl.run("scale", "deploy/web", "--replicas=1", "--current-replicas=4")
    assert code == 1 and "expected replicas to be 4, was 5" in err
    code, _, err = navctl.run("scale", "pod", "p", "--replicas=2")
    assert code == 1 and "pods cannot be scaled" in err


# --- describe and delete -------------------------------------------------------------------------


def test_describe_pod_and_deployment(navctl, tmp_path):
    navctl("apply", "-f", manifest(tmp_path / "d.yaml", deployment("web"), pod("p")))
    out = navctl("describe", "pod", "p")
    lines = out.splitlines()
    assert lines[0].split() == ["Name:", "p"]
    assert lines[1].split() == ["Namespace:", navctl.ns]
    assert "Status:           Pending" in out
    assert "Image:        127.0.0.1:5000/web:1" in out
    assert "node.kubernetes.io/not-ready:NoExecute op=Exists" in out
    assert out.rstrip().endswith("Events:          <none>")
    out = navctl("describe", "deploy", "web")
    assert "Replicas:               2 desired | 0 updated | 0 total" in out
    code, _, err = navctl.run("describe", "pod", "ghost")
    assert code == 1 and 'pods "ghost" not found' in err


def test_delete_by_name_label_file_and_all(navctl, tmp_path):
    file = manifest(tmp_path / "p.yaml", pod("a"), pod("b"), pod("c"), deployment("web"))
    navctl("apply", "-f", file)
    # Unbound pods go at once; --wait (the default) returns when they are gone.
    assert navctl("delete", "pod", "a") == 'pod "a" deleted\n'
    assert navctl("delete", "pods", "-l", "app=b") == 'pod "b" deleted\n'
    assert navctl("delete", "deploy/web", "--cascade=foreground", "--wait=false") == (
        'deployment.apps "web" deleted\n'
    )
    assert navctl("delete", "pods", "--all", "--now") == 'pod "c" deleted\n'
    code, _, err = navctl.run("delete", "-f", file, "--wait=false")
    assert code == 1 and 'pods "a" not found' in err
    code, _, err = navctl.run("delete", "pods")
    assert code == 1 and "no name was specified" in err


# --- watch ---------------------------------------------------------------------------------------

WATCH_WITH_SHORT_REQUESTS = (
    "import sys; import navarch.cli.navctl.commands.get as get; get.WATCH_SECONDS = 1; "
    "from navarch.cli.navctl import main; raise SystemExit(main(sys.argv[1:]))"
)


def test_get_watch_carries_on_when_the_server_ends_a_watch(navctl, tmp_path):
    """Each watch request lasts 1 s here; the rows of changes made seconds apart
    still arrive, and the command runs until Ctrl-C."""
    navctl("apply", "-f", manifest(tmp_path / "p.yaml", pod("watched")))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NAVARCH_")}
    watcher = subprocess.Popen(
        [
            sys.executable,
            "-c",
            WATCH_WITH_SHORT_REQUESTS,
            *("get", "pods", "-w", "--show-labels", "--kubeconfig", str(navctl.kubeconfig)),
            *("-n", navctl.ns),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in watcher.stdout], daemon=True).start()
    seen: list[str] = []

    def row_with(text: str) -> None:
        deadline = time.monotonic() + 60
        while not any(text in line for line in seen):
            assert time.monotonic() < deadline, f"no row with {text} in {seen}"
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                assert watcher.poll() is None, f"navctl ended: {watcher.stderr.read()}"

    try:
        row_with("app=watched")
        for step in range(3):
            time.sleep(1.5)  # longer than one watch request: the next change needs a new one
            navctl("label", "pod", "watched", f"step={step}", "--overwrite")
            row_with(f"step={step}")
        assert watcher.poll() is None
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
    assert seen[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"]
