"""navctl's pieces that need no server: ages, column layout from a server Table,
reading manifests (and naming the file and document of a bad one), kubectl-style
targets, the kubeconfig verbs and shell completion."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from navarch.cli.navctl import main
from navarch.cli.navctl.commands.config import DATA_OMITTED, REDACTED
from navarch.cli.navctl.commands.metadata import conflicts, parse_changes
from navarch.cli.navctl.describe_text import Text, event_rows
from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.generators.workloads import container_name, deployment_manifest
from navarch.cli.navctl.manifests import (
    Document,
    namespace_for,
    parse_documents,
    read_documents,
    resource_for,
)
from navarch.cli.navctl.printing import TableView, age, align, object_name, print_objects
from navarch.cli.navctl.targets import parse_targets
from navarch.resources.core import DEPLOYMENTS, PODS
from navarch.resources.registry import registry

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


def _ago(seconds: float) -> str:
    return (NOW - dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (5, "5s"),
        (119, "119s"),
        (182, "3m2s"),
        (4 * 3600, "4h"),
        (4 * 3600 + 300, "4h5m"),
        (2 * 86400 + 3 * 3600, "2d3h"),
        (30 * 86400, "30d"),
    ],
)
def test_age_is_kubectls(seconds, shown):
    assert age(_ago(seconds), NOW) == shown


def test_age_of_nothing_is_unknown():
    assert age(None, NOW) == "<unknown>"


def test_align_pads_columns_with_three_spaces_and_nothing_after_the_last():
    assert align([["NAME", "STATUS"], ["web-long", "Running"]]) == [
        "NAME       STATUS",
        "web-long   Running",
    ]


TABLE = {
    "columnDefinitions": [
        {"name": "Name", "priority": 0},
        {"name": "Status", "priority": 0},
        {"name": "Node", "priority": 1},
    ],
    "rows": [
        {
            "cells": ["web", "Running", "n1"],
            "object": {"metadata": {"namespace": "prod", "labels": {"b": "2", "a": "1"}}},
        }
    ],
}


def test_table_view_hides_wide_columns_unless_asked():
    assert TableView().render([TABLE]) == ["NAME   STATUS", "web    Running"]
    assert TableView(wide=True).render([TABLE]) == [
        "NAME   STATUS    NODE",
        "web    Running   n1",
    ]


def test_table_view_namespace_labels_and_kind_prefix():
    view = TableView(with_namespace=True, show_labels=True, name_prefix="pod")
    assert view.render([TABLE]) == [
        "NAMESPACE   NAME      STATUS    LABELS",
        "prod        pod/web   Running   a=1,b=2",
    ]


def test_object_names_carry_the_group():
    assert object_name(DEPLOYMENTS, "web") == "deployment.apps/web"
    assert object_name(PODS, "web") == "pod/web"


def test_print_objects_name_and_list():
    out = io.StringIO()
    pods = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "managedFields": []}}]
    print_objects(pods, "name", out)
    assert out.getvalue() == "pod/a\n"
    out = io.StringIO()
    print_objects(pods, "yaml", out)
    listed = yaml.safe_load(out.getvalue())
    assert listed["kind"] == "List"
    assert "managedFields" not in listed["items"][0]["metadata"]


# --- manifests ------------------------------------------------------------------------------

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {}
"""
POD = """apiVersion: v1
kind: Pod
metadata: {name: p, namespace: team}
spec: {}
"""


def test_multi_document_yaml_and_lists(tmp_path):
    listed = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [yaml.safe_load(POD)]})
    (tmp_path / "a.yaml").write_text(DEPLOY + "---\n---\n" + POD)
    (tmp_path / "b.json").write_text(listed)
    (tmp_path / "notes.txt").write_text("not a manifest")
    docs = read_documents([str(tmp_path)])
    assert [(Path(d.source).name, d.index, d.name) for d in docs] == [
        ("a.yaml", 1, "web"),
        ("a.yaml", 3, "p"),
        ("b.json", 1, "p"),
    ]


def test_stdin_is_read_for_dash():
    docs = read_documents(["-"], stdin=io.StringIO(POD))
    assert docs[0].source == "STDIN"


def test_invalid_yaml_names_the_file_and_document():
    with pytest.raises(CliError, match=r"web\.yaml \(document 2\): invalid YAML at line"):
        parse_documents(DEPLOY + "---\nkind: [unclosed\n", "web.yaml")


def test_a_document_without_kind_or_name_is_named():
    with pytest.raises(CliError, match=r"x\.yaml \(document 1\): the object has no kind"):
        parse_documents("apiVersion: v1\nmetadata: {name: a}\n", "x.yaml")
    with pytest.raises(CliError, match=r"x\.yaml \(document 1\): Pod has no metadata.name"):
        parse_documents("apiVersion: v1\nkind: Pod\n", "x.yaml")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(CliError, match=r'the path ".*nope.yaml" does not exist'):
        read_documents([str(tmp_path / "nope.yaml")])


def test_unknown_kind_names_the_document_and_what_is_served():
    doc = Document(
        {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "s"}},
        "s.yaml",
        2,
    )
    with pytest.raises(CliError) as caught:
        resource_for(doc)
    assert 's.yaml (document 2): resource mapping not found for name: "s"' in str(caught.value)
    assert 'no matches for kind "ReplicationController" in version "v1"' in str(caught.value)
    assert "Deployment (apps/v1)" in str(caught.value)


def test_namespace_from_object_flag_or_default_and_conflict():
    pod = parse_documents(POD, "p.yaml")[0]
    res = resource_for(pod)
    assert namespace_for(pod, res, "default", None) == "team"
    assert namespace_for(pod, res, "team", "team") == "team"
    with pytest.raises(CliError, match='does not match the namespace "dev"'):
        namespace_for(pod, res, "dev", "dev")
    deploy = parse_documents(DEPLOY, "d.yaml")[0]
    assert namespace_for(deploy, resource_for(deploy), "dev", "dev") == "dev"


# --- targets, create, label -----------------------------------------------------------------


KUBECTL_ALL = (
    "pods",
    "services",
    "daemonsets",
    "deployments",
    "replicasets",
    "statefulsets",
    "cronjobs",
    "jobs",
)


def test_targets_as_kubectl_reads_them():
    assert [(t.res.plural, t.names) for t in parse_targets(["po", "a", "b"])] == [
        ("pods", ("a", "b"))
    ]
    # kubectl's `get all` on Kubernetes, in its order, of the kinds this tree serves
    # (the rest of issue 23's kinds join as they land)
    served = [r for r in KUBECTL_ALL if registry().resolve(r) is not None]
    assert {"pods", "deployments", "replicasets"} <= set(served)
    assert [t.res.plural for t in parse_targets(["all"])] == served
    assert [(t.res.plural, t.names) for t in parse_targets(["deploy/web", "rs/x"])] == [
        ("deployments", ("web",)),
        ("replicasets", ("x",)),
    ]
    with pytest.raises(CliError, match='doesn\'t have a resource type "rc"; known types'):
        parse_targets(["rc"])


def test_create_deployment_builds_kubectls_object():
    deploy = deployment_manifest("web", "127.0.0.1:5000/team/web:1.2", 3, 8080)
    assert deploy["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container == {
        "name": "web",
        "image": "127.0.0.1:5000/team/web:1.2",
        "ports": [{"containerPort": 8080}],
    }
    assert container_name("busybox@sha256:abc") == "busybox"


def test_label_changes_and_overwrite_rule():
    objects, changes = parse_changes(["pods", "web", "app=v2", "tier-"])
    assert objects == ["pods", "web"]
    assert changes == {"app": "v2", "tier": None}
    assert conflicts({"app": "v1"}, changes) == [
        "'app' already has a value (v1), and --overwrite is false"
    ]
    assert conflicts({"app": "v2"}, changes) == []
    with pytest.raises(CliError, match="at least one change"):
        parse_changes(["pods", "web"])


# --- describe layout ------------------------------------------------------------------------


def test_describe_fields_align_per_block_and_continue_under_the_value():
    text = Text()
    text.field("Name", "web")
    text.values("Labels", ["a=1", "b=2"])
    text.line("Containers:")
    text.field("Image", "x", 2)
    assert text.render() == (
        "Name:    web\nLabels:  a=1\n         b=2\nContainers:\n    Image:  x\n"
    )


def test_events_table_counts_repeats():
    events = [
        {
            "type": "Warning",
            "reason": "FailedScheduling",
            "count": 3,
            "firstTimestamp": _ago(600),
            "lastTimestamp": _ago(60),
            "source": {"component": "default-scheduler"},
            "message": "0/2 nodes are available",
        }
    ]
    rows = event_rows(events, NOW)
    assert rows[2] == [
        "Warning",
        "FailedScheduling",
        "60s (x3 over 10m)",
        "default-scheduler",
        "0/2 nodes are available",
    ]


# --- kubeconfig verbs and completion --------------------------------------------------------

KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [
        {
            "name": "a",
            "cluster": {"server": "https://127.0.0.1:1", "certificate-authority-data": "Q0E="},
        },
        {"name": "b", "cluster": {"server": "https://127.0.0.1:2"}},
    ],
    "users": [{"name": "admin", "user": {"token": "s3cret", "client-key-data": "S0VZ"}}],
    "contexts": [
        {"name": "one", "context": {"cluster": "a", "user": "admin", "namespace": "dev"}},
        {"name": "two", "context": {"cluster": "b", "user": "admin"}},
    ],
    "current-context": "one",
}


@pytest.fixture
def kubeconfig(tmp_path) -> Path:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(KUBECONFIG))
    return path


def _navctl(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_config_view_hides_secrets_unless_raw(capsys, kubeconfig):
    code, out, _ = _navctl(capsys, "config", "view", "--kubeconfig", str(kubeconfig))
    assert code == 0
    shown = yaml.safe_load(out)
    assert shown["users"][0]["user"] == {"token": REDACTED, "client-key-data": DATA_OMITTED}
    assert shown["clusters"][0]["cluster"]["certificate-authority-data"] == DATA_OMITTED
    assert "s3cret" not in out
    _, out, _ = _navctl(capsys, "config", "view", "--raw", "--kubeconfig", str(kubeconfig))
    assert yaml.safe_load(out)["users"][0]["user"]["token"] == "s3cret"


def test_config_view_minify_keeps_the_current_context_only(capsys, kubeconfig):
    _, out, _ = _navctl(capsys, "config", "view", "--minify", "--kubeconfig", str(kubeconfig))
    shown = yaml.safe_load(out)
    assert [c["name"] for c in shown["contexts"]] == ["one"]
    assert [c["name"] for c in shown["clusters"]] == ["a"]


def test_use_context_switches_and_unknown_is_an_error(capsys, kubeconfig, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))  # the same lookup as kubectl
    assert _navctl(capsys, "config", "current-context") == (0, "one\n", "")
    code, out, _ = _navctl(capsys, "config", "use-context", "two")
    assert (code, out) == (0, 'Switched to context "two".\n')
    assert yaml.safe_load(kubeconfig.read_text())["current-context"] == "two"
    code, _, err = _navctl(capsys, "config", "use-context", "three")
    assert code == 1
    assert 'no context exists with the name: "three" (known: one, two)' in err
    _, out, _ = _navctl(capsys, "config", "get-contexts")
    assert out.splitlines() == [
        "CURRENT   NAME   CLUSTER   AUTHINFO   NAMESPACE",
        "          one    a         admin      dev",
        "*         two    b         admin",
    ]


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_cover_every_verb(capsys, shell):
    code, out, _ = _navctl(capsys, "completion", shell)
    assert code == 0
    for verb in ("get", "describe", "apply", "delete", "label", "scale", "config", "completion"):
        assert verb in out
    if shell == "bash":
        assert subprocess.run(["bash", "-n"], input=out, text=True).returncode == 0


def test_missing_kubeconfig_says_how_to_get_one(capsys, tmp_path):
    code, _, err = _navctl(capsys, "get", "pods", "--kubeconfig", str(tmp_path / "none"))
    assert code == 1
    assert "cannot read kubeconfig" in err and "navarch up" in err


def test_navctl_runs_as_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "navarch.cli.navctl", "get", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "--all-namespaces" in result.stdout
