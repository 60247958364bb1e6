"""``navctl create configmap|secret|job|cronjob`` (issue 23 item 9) build the object the
real kubectl builds for the same flags: first as ``--dry-run=client -o json`` prints
it (no server: every source kind, secret type and error case), then through a real
API server, where the object each tool created is read back after the server's
defaults and compared (metadata the server assigns left out)."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from navarch.cli.navctl import main
from navarch.testing.cluster import Kubectl

# metadata the server assigns: never the same for two objects
ASSIGNED = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "namespace")


def pruned(value: Any) -> Any:
    """Without nulls and empty maps: kubectl's offline output writes
    ``creationTimestamp: null``, ``resources: {}`` and ``status: {}``."""
    if isinstance(value, dict):
        kept = {k: pruned(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [pruned(v) for v in value]
    return value


def offline(args: tuple[str, ...]) -> list[str]:
    """``args`` with ``--dry-run=client -o json``, before a ``--`` (a command) if any."""
    words = list(args)
    at = words.index("--") if "--" in words else len(words)
    return [*words[:at], "--dry-run=client", "-o", "json", *words[at:]]


def navctl_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    code = main(offline(args))
    out, err = capsys.readouterr()
    assert code == 0, err
    return pruned(json.loads(out))


def kubectl_json(*args: str) -> dict[str, Any]:
    # No kubeconfig is read for a client dry run; an empty one keeps it off ~/.kube
    result = subprocess.run(
        ["kubectl", "--kubeconfig", "/dev/null", *offline(args)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return pruned(json.loads(result.stdout))


def navctl_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(offline(args)) == 1
    return capsys.readouterr().err


def kubectl_error(*args: str) -> str:
    result = subprocess.run(
        ["kubectl", "--kubeconfig", "/dev/null", *offline(args)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0, result.stdout
    return result.stderr


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """Files of every kind a --from-file may name."""
    (tmp_path / "app.properties").write_text("color=blue\nsize=3\n")
    (tmp_path / "blob.bin").write_bytes(b"\xff\xfe\x00binary")
    folder = tmp_path / "conf.d"
    folder.mkdir()
    (folder / "a.conf").write_text("a=1\n")
    (folder / "b.conf").write_text("b=2\n")
    (folder / "nested").mkdir()  # skipped: only regular files count
    (folder / "link.conf").symlink_to(folder / "a.conf")  # skipped, as kubectl
    (tmp_path / "settings.env").write_text(
        "\ufeffMODE=fast\n# a comment\n\n   LEVEL=3=three\nFROM_ENV\nEMPTY=\n"
    )
    return tmp_path


# --- offline: the same object as kubectl's --dry-run=client ------------------------------


def test_configmap_from_every_source_is_kubectls(capsys, sources, monkeypatch):
    monkeypatch.setenv("FROM_ENV", "taken from the environment")
    for flags in (
        ("--from-literal=color=blue", "--from-literal=empty=", "--from-literal=eq=a=b"),
        (f"--from-file={sources}/app.properties", f"--from-file=renamed={sources}/blob.bin"),
        (f"--from-file={sources}/conf.d", "--from-literal=extra=1"),
        (f"--from-env-file={sources}/settings.env",),
    ):
        args = ("create", "configmap", "settings", *flags)
        assert navctl_json(capsys, *args) == kubectl_json(*args), flags
    made = navctl_json(capsys, "create", "cm", "x", f"--from-file={sources}/blob.bin")
    assert made["binaryData"] == {"blob.bin": base64.b64encode(b"\xff\xfe\x00binary").decode()}


def test_secret_generic_and_its_type_are_kubectls(capsys, sources):
    for flags in (
        ("--from-literal=user=admin", "--from-literal=password=s3cr=t"),
        (f"--from-file={sources}/conf.d", f"--from-file=raw={sources}/blob.bin"),
        (f"--from-env-file={sources}/settings.env", "--type=example.com/custom"),
    ):
        args = ("create", "secret", "generic", "creds", *flags)
        assert navctl_json(capsys, *args) == kubectl_json(*args), flags


def test_secret_docker_registry_is_kubectls(capsys, tmp_path):
    for flags in (
        ("--docker-username=u", "--docker-password=p<&>"),  # Docker Hub, Go's escapes
        (
            "--docker-server=127.0.0.1:5000",
            "--docker-username=puller",
            "--docker-password=pw",
            "--docker-email=ops@example.com",
        ),
    ):
        args = ("create", "secret", "docker-registry", "pull", *flags)
        assert navctl_json(capsys, *args) == kubectl_json(*args), flags
    config = tmp_path / "config.json"
    config.write_text('{"auths": {"127.0.0.1:5000": {"auth": "dTpw"}}}')
    args = (
        "create",
        "secret",
        "docker-registry",
        "pull",
        f"--from-file=.dockerconfigjson={config}",
    )
    assert navctl_json(capsys, *args) == kubectl_json(*args)
    err = navctl_error(capsys, "create", "secret", "docker-registry", "pull", "--docker-username=u")
    assert "missing --docker-password" in err


def key_pair(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_secret_tls_is_kubectls_and_a_mismatched_pair_is_refused(capsys, tmp_path):
    cert, key = key_pair(tmp_path, "web")
    args = ("create", "secret", "tls", "web-tls", f"--cert={cert}", f"--key={key}")
    made = navctl_json(capsys, *args)
    assert made == kubectl_json(*args)
    assert made["type"] == "kubernetes.io/tls"
    assert base64.b64decode(made["data"]["tls.key"]) == key.read_bytes()
    other_cert, _ = key_pair(tmp_path, "other")
    for flags, said in (
        ((f"--cert={other_cert}", f"--key={key}"), "private key does not match public key"),
        ((f"--cert={cert}", f"--key={cert}"), "found a certificate rather than a key"),
    ):
        assert said in navctl_error(capsys, "create", "secret", "tls", "t", *flags)
        assert said in kubectl_error("create", "secret", "tls", "t", *flags)


def test_job_and_cronjob_are_kubectls(capsys):
    for args in (
        ("create", "job", "once", "--image=127.0.0.1:5000/busybox:1"),
        ("create", "job", "once", "--image=busybox", "--", "sh", "-c", "echo hi; exit 0"),
        ("create", "cronjob", "tick", "--image=busybox", "--schedule=*/1 * * * *"),
        (
            "create",
            "cronjob",
            "tick",
            "--image=busybox",
            "--schedule=@hourly",
            "--restart=Never",
            "--",
            "date",
        ),
    ):
        assert navctl_json(capsys, *args) == kubectl_json(*args), args


@pytest.mark.parametrize(
    ("args", "both_say"),
    [
        (("create", "cm", "x", "--from-literal=a=1", "--from-literal=a=2"), 'cannot add key "a"'),
        (
            ("create", "secret", "generic", "x", "--from-literal=a=1", "--from-literal=a=2"),
            "cannot add key a, another key by that name already exists",
        ),
        (("create", "cm", "x", "--from-literal=a b=1"), "is not a valid key name"),
        (("create", "cm", "x", "--from-literal=novalue"), "invalid literal source"),
        (("create", "job", "j"), "either --image or --from must be specified"),
    ],
)
def test_bad_flags_are_refused_as_kubectl_refuses_them(capsys, args, both_say):
    assert both_say in navctl_error(capsys, *args)
    assert both_say in kubectl_error(*args)


def test_env_file_does_not_mix_with_other_sources(capsys, sources):
    args = (
        "create",
        "cm",
        "x",
        f"--from-env-file={sources}/settings.env",
        "--from-literal=a=1",
    )
    said = "from-env-file cannot be combined with from-file or from-literal"
    assert said in navctl_error(capsys, *args)
    assert said in kubectl_error(*args)


# --- through a real API server: the same object after the server's defaults --------------


def stored(kubectl: Kubectl, ns: str, kind: str, name: str) -> dict[str, Any]:
    text = kubectl("get", kind, name, "-n", ns, "-o", "json")
    uid = json.loads(text)["metadata"]["uid"]
    obj = json.loads(text.replace(uid, "<uid>"))  # a Job's controller-uid labels too
    for key in ASSIGNED:
        obj["metadata"].pop(key, None)
    for ref in obj["metadata"].get("ownerReferences") or []:
        ref.pop("uid")  # each namespace's CronJob has its own
    obj.pop("status", None)
    return obj


class BothTools:
    """navctl and kubectl, each creating into a namespace of its own."""

    def __init__(self, kubeconfig: Path, capsys: pytest.CaptureFixture[str]):
        self.kubeconfig, self.capsys = kubeconfig, capsys
        self.kubectl = Kubectl(kubeconfig)
        suffix = uuid.uuid4().hex[:6]
        self.ours, self.theirs = f"navctl-{suffix}", f"kubectl-{suffix}"
        for ns in (self.ours, self.theirs):
            self.kubectl("create", "namespace", ns)

    def create(self, *args: str) -> str:
        """``args`` by both tools; navctl's report line."""
        words = list(args)
        at = words.index("--") if "--" in words else len(words)  # flags go before a command
        self.kubectl(*words[:at], "-n", self.theirs, *words[at:])
        self.capsys.readouterr()
        code = main(
            [*words[:at], "--kubeconfig", str(self.kubeconfig), "-n", self.ours, *words[at:]]
        )
        out, err = self.capsys.readouterr()
        assert code == 0, err
        return out

    def same(self, kind: str, name: str) -> dict[str, Any]:
        ours = stored(self.kubectl, self.ours, kind, name)
        assert ours == stored(self.kubectl, self.theirs, kind, name)
        return ours


@pytest.fixture
def both(api_server, capsys) -> BothTools:
    return BothTools(api_server.kubeconfig, capsys)


def test_created_configmaps_and_secrets_match_kubectls(both, sources, tmp_path):
    report = both.create(
        "create",
        "configmap",
        "settings",
        f"--from-file={sources}/conf.d",
        f"--from-file=blob={sources}/blob.bin",
        "--from-literal=color=blue",
    )
    assert report == "configmap/settings created\n"
    assert both.same("configmap", "settings")["data"]["color"] == "blue"
    both.create("create", "cm", "from-env", f"--from-env-file={sources}/settings.env")
    both.same("cm", "from-env")
    both.create("create", "secret", "generic", "creds", "--from-literal=password=pw")
    assert both.same("secret", "creds")["type"] == "Opaque"  # the server's default
    both.create(
        "create",
        "secret",
        "docker-registry",
        "pull",
        "--docker-server=127.0.0.1:5000",
        "--docker-username=u",
        "--docker-password=p",
    )
    assert both.same("secret", "pull")["type"] == "kubernetes.io/dockerconfigjson"
    cert, key = key_pair(tmp_path, "web")
    both.create("create", "secret", "tls", "web-tls", f"--cert={cert}", f"--key={key}")
    both.same("secret", "web-tls")


def test_created_jobs_and_cronjobs_match_kubectls(both):
    image = "127.0.0.1:5000/busybox:1"
    both.create("create", "job", "once", f"--image={image}", "--", "sh", "-c", "exit 0")
    both.same("job", "once")
    report = both.create(
        "create", "cronjob", "tick", f"--image={image}", "--schedule=*/5 * * * *", "--", "date"
    )
    assert report == "cronjob.batch/tick created\n"
    assert both.same("cronjob", "tick")["spec"]["concurrencyPolicy"] == "Allow"  # defaulted
    # a manual run: the CronJob's template, marked and owned as kubectl marks it
    assert both.create("create", "job", "manual", "--from=cronjob/tick") == (
        "job.batch/manual created\n"
    )
    job = both.same("job", "manual")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"] == [
        {"apiVersion": "batch/v1", "kind": "CronJob", "name": "tick", "controller": True}
    ]
    cronjob = stored(both.kubectl, both.ours, "cronjob", "tick")
    pod_spec = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert job["spec"]["template"]["spec"] == pod_spec  # (its labels are the Job's own)


def test_create_job_from_something_else_is_refused(both, capsys):
    for source, said in (
        ("deployment/web", "--from must name an existing cronjob as cronjob/NAME"),
        ("cronjob/ghost", 'cronjobs.batch "ghost" not found'),
    ):
        capsys.readouterr()
        args = ["create", "job", "x", f"--from={source}", "--kubeconfig", str(both.kubeconfig)]
        assert main([*args, "-n", both.ours]) == 1
        assert said in capsys.readouterr().err


def test_dry_runs_write_nothing(both, capsys):
    base = ["create", "cm", "dry", "--from-literal=a=1", "--kubeconfig", str(both.kubeconfig)]
    capsys.readouterr()
    assert main([*base, "-n", both.ours, "--dry-run=server", "-o", "json"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert checked["metadata"]["namespace"] == both.ours  # the server's answer
    assert main([*base, "-n", both.ours, "--dry-run=client"]) == 0
    assert capsys.readouterr().out == "configmap/dry created (dry run)\n"
    missing = both.kubectl.run("get", "cm", "dry", "-n", both.ours)
    assert missing.returncode == 1 and "NotFound" in missing.stderr
