"""The volume manager on its own: every volume source on the host (with a reader
holding the API objects), Kubernetes' hostPath checks and messages, tmpfs for Memory
and Secrets, claims that are not bound yet, emptyDir sizeLimit."""

from __future__ import annotations

import base64
import errno
import os
import socket
import stat

import pytest

from navarch import api
from navarch.agent.apiobjects import CLAIMS, CONFIG_MAPS, SECRETS, VOLUMES, ObjectReader
from navarch.agent.volumes import manager as manager_module
from navarch.agent.volumes.hostpath import HostPathError, check_host_path
from navarch.agent.volumes.layout import SECRET, PodDirectories
from navarch.agent.volumes.manager import VolumeManager, VolumeSetupError
from navarch.agent.volumes.tmpfs import MountError, mounts_below, unmount
from navarch.client.errors import Forbidden


@pytest.fixture
def manager(tmp_path):
    manager = VolumeManager(PodDirectories(tmp_path / "pods"), "n1", {"cpu": "4"})
    yield manager
    for point in mounts_below(tmp_path):
        unmount(point)


def pod(volumes, uid="u-1", containers=None):
    return api.load(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "p",
                "namespace": "team",
                "uid": uid,
                "labels": {"app": "web", "tier": "front"},
            },
            "spec": {
                "nodeName": "n1",
                "containers": containers
                or [
                    {
                        "name": "app",
                        "image": "navarch.test/busybox:1",
                        "resources": {"limits": {"memory": "64Mi"}},
                    }
                ],
                "volumes": volumes,
            },
        }
    ).obj


def reader(**objects) -> ObjectReader:
    held = ObjectReader(client=None)  # type: ignore[arg-type]  # never asks the API
    kinds = {"cm": CONFIG_MAPS, "secret": SECRETS, "pvc": CLAIMS, "pv": VOLUMES}
    for key, obj in objects.items():
        kind, _, name = key.partition("__")
        held.preload(kinds[kind], None if kind == "pv" else "team", name, obj)
    return held


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


async def test_config_map_items_modes_and_optional(manager, tmp_path):
    volumes = [
        {
            "name": "cfg",
            "configMap": {
                "name": "app",
                "items": [
                    {"key": "a", "path": "dir/a.txt", "mode": 0o600},
                    {"key": "b", "path": "b"},
                ],
                "defaultMode": 0o640,
            },
        },
        {"name": "maybe", "configMap": {"name": "absent", "optional": True}},
    ]
    held = reader(cm__app={"data": {"a": "1", "b": "2", "c": "3"}}, cm__absent=None)
    ready = await manager.setup(pod(volumes), held)
    cfg = ready["cfg"].path
    assert ready["cfg"].read_only
    assert (cfg / "dir" / "a.txt").read_text() == "1"
    assert (cfg / "dir" / "a.txt").stat().st_mode & 0o777 == 0o600
    assert (cfg / "b").stat().st_mode & 0o777 == 0o640
    assert not (cfg / "c").exists()  # only the items
    # An optional ConfigMap that does not exist: an empty volume.
    assert not [p for p in ready["maybe"].path.iterdir() if not p.name.startswith("..")]


async def test_missing_objects_and_keys_are_the_kubelets_failed_mount(manager):
    volumes = [
        {"name": "cfg", "configMap": {"name": "absent"}},
        {"name": "keyed", "configMap": {"name": "app", "items": [{"key": "nope", "path": "x"}]}},
        {"name": "creds", "secret": {"secretName": "gone"}},
    ]
    held = reader(cm__absent=None, cm__app={"data": {"a": "1"}}, secret__gone=None)
    with pytest.raises(VolumeSetupError) as raised:
        await manager.setup(pod(volumes), held)
    assert raised.value.failures == [
        ("cfg", 'configmap "absent" not found'),
        ("keyed", "configmap references non-existent config key: nope"),
        ("creds", 'secret "gone" not found'),
    ]
    assert raised.value.message.startswith(
        'MountVolume.SetUp failed for volume "cfg" : configmap "absent" not found; '
    )


async def test_secrets_are_on_a_tmpfs_of_their_own(manager):
    volumes = [{"name": "creds", "secret": {"secretName": "db", "defaultMode": 0o400}}]
    ready = await manager.setup(pod(volumes), reader(secret__db={"data": {"pw": b64("s3cret")}}))
    path = ready["creds"].path
    assert os.path.ismount(path)
    assert (path / "pw").read_text() == "s3cret"
    assert (path / "pw").stat().st_mode & 0o777 == 0o400
    await manager.remove("u-1")
    assert not manager.directories.pod("u-1").exists()
    assert not mounts_below(manager.directories.root)


async def test_empty_dirs_on_disk_and_in_memory(manager):
    volumes = [
        {"name": "disk", "emptyDir": {}},
        {"name": "ram", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}},
        {"name": "unsized", "emptyDir": {"medium": "Memory"}},
    ]
    ready = await manager.setup(pod(volumes), reader())
    assert stat.S_IMODE(ready["disk"].path.stat().st_mode) == 0o777
    assert not os.path.ismount(ready["disk"].path)
    assert os.path.ismount(ready["ram"].path)
    assert stat.S_IMODE(ready["ram"].path.stat().st_mode) == 0o777
    assert stat.S_IMODE(ready["unsized"].path.stat().st_mode) == 0o777
    assert os.statvfs(ready["ram"].path).f_blocks * os.statvfs(ready["ram"].path).f_frsize == (
        8 * 1024 * 1024
    )


async def test_an_empty_dir_over_its_size_limit_is_reported_as_kubernetes_evicts(manager):
    p = pod([{"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}}])
    ready = await manager.setup(p, reader())
    assert await manager.over_size_limit(p) is None
    (ready["scratch"].path / "big").write_bytes(os.urandom(2 * 1024 * 1024))
    assert await manager.over_size_limit(p) == (
        'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". '
    )


async def test_downward_api_and_projected(manager):
    volumes = [
        {
            "name": "info",
            "downwardAPI": {
                "items": [
                    {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
                    {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
                    {
                        "path": "mem",
                        "resourceFieldRef": {
                            "containerName": "app",
                            "resource": "limits.memory",
                            "divisor": "1Mi",
                        },
                    },
                ]
            },
        },
        {
            "name": "all",
            "projected": {
                "sources": [
                    {"configMap": {"name": "app"}},
                    {"secret": {"name": "db", "items": [{"key": "pw", "path": "db/pw"}]}},
                    {
                        "downwardAPI": {
                            "items": [
                                {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}
                            ]
                        }
                    },
                ]
            },
        },
    ]
    held = reader(cm__app={"data": {"a": "1"}}, secret__db={"data": {"pw": b64("x")}})
    ready = await manager.setup(pod(volumes), held)
    info = ready["info"].path
    assert (info / "labels").read_text() == 'app="web"\ntier="front"'
    assert (info / "name").read_text() == "p"
    assert (info / "mem").read_text() == "64"
    projected = ready["all"].path
    assert (projected / "a").read_text() == "1"
    assert (projected / "db" / "pw").read_text() == "x"
    assert (projected / "ns").read_text() == "team"


async def test_a_service_account_token_projection_says_it_is_not_supported(manager):
    volumes = [
        {
            "name": "token",
            "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
        }
    ]
    with pytest.raises(VolumeSetupError, match="serviceAccountToken projections are not supported"):
        await manager.setup(pod(volumes), reader())


async def test_a_claim_waits_until_bound_then_mounts_its_volumes_host_path(manager, tmp_path):
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-0"}}]
    pending = {"spec": {}, "status": {"phase": "Pending"}}
    missing = reader()
    missing.preload(CLAIMS, "team", "data-0", None)
    with pytest.raises(VolumeSetupError) as raised:
        await manager.setup(pod(volumes), missing)
    assert raised.value.failures == [("data", 'persistentvolumeclaim "data-0" not found')]
    held = reader()
    held.preload(CLAIMS, "team", "data-0", pending)
    with pytest.raises(VolumeSetupError, match='"data-0" is not bound yet'):
        await manager.setup(pod(volumes), held)
    where = tmp_path / "provisioned" / "pvc-1"
    held = reader()
    held.preload(
        CLAIMS,
        "team",
        "data-0",
        {
            "metadata": {"uid": "claim-uid"},
            "spec": {"volumeName": "pvc-1"},
            "status": {"phase": "Bound"},
        },
    )
    held.preload(
        VOLUMES,
        None,
        "pvc-1",
        {
            "spec": {
                "hostPath": {"path": str(where), "type": "DirectoryOrCreate"},
                "claimRef": {"namespace": "team", "name": "data-0", "uid": "claim-uid"},
            }
        },
    )
    ready = await manager.setup(pod(volumes), held)
    assert ready["data"].path == where and where.is_dir()


def test_host_path_types(tmp_path):
    made = tmp_path / "made" / "deep"
    check_host_path(str(made), "DirectoryOrCreate")
    assert made.is_dir() and stat.S_IMODE(made.stat().st_mode) == 0o755
    file = tmp_path / "f" / "file.txt"
    check_host_path(str(file), "FileOrCreate")
    assert file.is_file()
    check_host_path(str(file), "File")
    check_host_path(str(made), "Directory")
    check_host_path("/dev/null", "CharDevice")
    check_host_path(str(file), "")  # no type: nothing checked
    # ... and a missing path becomes a directory, as Kubernetes' runtimes make it
    check_host_path(str(tmp_path / "missing"), "")
    assert (tmp_path / "missing").is_dir()
    sock_path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        check_host_path(str(sock_path), "Socket")
    cases = [
        (str(file), "Directory", f"hostPath type check failed: {file} is not a directory"),
        (str(made), "File", f"hostPath type check failed: {made} is not a file"),
        (str(made), "FileOrCreate", f"hostPath type check failed: {made} is not a file"),
        (str(file), "Socket", f"hostPath type check failed: {file} is not a socket file"),
        (str(file), "CharDevice", f"hostPath type check failed: {file} is not a character device"),
        ("/dev/null", "BlockDevice", "hostPath type check failed: /dev/null is not a block device"),
        (
            str(tmp_path / "none"),
            "Directory",
            f"hostPath type check failed: {tmp_path / 'none'} is not a directory",
        ),
        (str(file), "Weird", "Weird is an invalid volume type"),
    ]
    for path, kind, message in cases:
        with pytest.raises(HostPathError) as raised:
            check_host_path(path, kind)
        assert str(raised.value) == message


class RefusingClient:
    """An API server that refuses every read (a node token without the right)."""

    async def request(self, method, path, **kwargs):
        raise Forbidden(403, {"reason": "Forbidden", "message": "no relationship found"})


async def test_an_object_the_api_server_refuses_is_a_reason_to_wait(manager):
    volumes = [{"name": "cfg", "configMap": {"name": "app"}}]
    with pytest.raises(VolumeSetupError) as raised:
        await manager.setup(pod(volumes), ObjectReader(RefusingClient()))  # type: ignore[arg-type]
    assert raised.value.failures == [("cfg", 'cannot read configmap "app": no relationship found')]


async def test_a_claim_being_deleted_is_not_given_to_a_pod_that_did_not_use_it(manager, tmp_path):
    """The kubelet's check: a new pod waits ("PVC is being deleted") rather than start on
    a claim its protection would keep only for it; a pod that had it set up (or whose
    containers already exist, after an agent restart) keeps it."""
    where = tmp_path / "provisioned" / "pvc-1"
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data-0"}}]
    bound = {
        "metadata": {"uid": "claim-uid"},
        "spec": {"volumeName": "pvc-1"},
        "status": {"phase": "Bound"},
    }
    terminating = {
        **bound,
        "metadata": {"uid": "claim-uid", "deletionTimestamp": "2026-12-07T21:00:00Z"},
    }
    volume = {
        "spec": {
            "hostPath": {"path": str(where), "type": "DirectoryOrCreate"},
            "claimRef": {"namespace": "team", "name": "data-0", "uid": "claim-uid"},
        }
    }

    def held(claim):
        objects = reader()
        objects.preload(CLAIMS, "team", "data-0", claim)
        objects.preload(VOLUMES, None, "pvc-1", volume)
        return objects

    with pytest.raises(VolumeSetupError) as raised:
        await manager.setup(pod(volumes, uid="new"), held(terminating))
    assert raised.value.failures == [
        (
            "data",
            "error processing PVC team/data-0: PVC is being deleted; the pod waits until a "
            "claim of that name exists again",
        )
    ]
    assert (await manager.setup(pod(volumes, uid="old"), held(bound)))["data"].path == where
    assert (await manager.setup(pod(volumes, uid="old"), held(terminating)))["data"].path == where
    ready = await manager.setup(pod(volumes, uid="restarted"), held(terminating), started=True)
    assert ready["data"].path == where


def test_a_relative_host_path_is_refused_not_made_where_the_agent_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for kind in ("", "DirectoryOrCreate", "FileOrCreate"):
        with pytest.raises(HostPathError, match="'relative/dir' is not an absolute path"):
            check_host_path("relative/dir", kind)
    assert not (tmp_path / "relative").exists()


def _tmpfs_bytes(path) -> int:
    found = os.statvfs(path)
    return found.f_blocks * found.f_frsize


async def test_a_memory_empty_dir_without_size_limit_is_as_large_as_the_pod_may_use(tmp_path):
    """Kubernetes' calculateEmptyDirMemorySize: the pod's memory limit (64Mi here), not
    tmpfs' default of half the machine; a sizeLimit below it wins; with no pod limit,
    the node's allocatable memory."""
    manager = VolumeManager(PodDirectories(tmp_path / "pods"), "n1", {"memory": "96Mi"})
    try:
        volumes = [
            {"name": "unsized", "emptyDir": {"medium": "Memory"}},
            {"name": "small", "emptyDir": {"medium": "Memory", "sizeLimit": "8Mi"}},
            {"name": "large", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
        ]
        ready = await manager.setup(pod(volumes), reader())
        assert _tmpfs_bytes(ready["unsized"].path) == 64 * 1024 * 1024
        assert _tmpfs_bytes(ready["small"].path) == 8 * 1024 * 1024
        assert _tmpfs_bytes(ready["large"].path) == 64 * 1024 * 1024
        unlimited = [{"name": "app", "image": "navarch.test/busybox:1"}]
        ready = await manager.setup(pod(volumes[:1], uid="u-2", containers=unlimited), reader())
        assert _tmpfs_bytes(ready["unsized"].path) == 96 * 1024 * 1024
    finally:
        for point in mounts_below(tmp_path):
            unmount(point)


async def test_a_claim_naming_a_volume_bound_to_another_claim_does_not_mount_it(manager, tmp_path):
    """The kubelet's check: a claim whose spec.volumeName names someone else's volume
    (its claimRef points to another claim's uid) never gets that volume's path."""
    theirs = tmp_path / "theirs"
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "mine"}}]
    held = reader()
    held.preload(
        CLAIMS,
        "team",
        "mine",
        {
            "metadata": {"uid": "u-mine"},
            "spec": {"volumeName": "pv-theirs"},
            "status": {"phase": "Bound"},
        },
    )
    held.preload(
        VOLUMES,
        None,
        "pv-theirs",
        {
            "spec": {
                "hostPath": {"path": str(theirs), "type": "DirectoryOrCreate"},
                "claimRef": {"namespace": "other", "name": "data", "uid": "u-theirs"},
            }
        },
    )
    with pytest.raises(VolumeSetupError) as raised:
        await manager.setup(pod(volumes), held)
    assert raised.value.failures == [
        (
            "data",
            "found PV object 'pv-theirs' but its claimRef UID 'u-theirs' does not point to "
            "claim team/mine (UID 'u-mine')",
        )
    ]
    assert not theirs.exists()


async def test_a_tmpfs_failing_for_one_volume_keeps_secrets_in_memory_for_the_rest(
    manager, monkeypatch
):
    """Only a lack of privilege (EPERM) sends memory-backed volumes to disk from then
    on; any other failure fails that volume (the pod waits) and the next Secret still
    gets its tmpfs."""
    real_mount = manager_module.mount_tmpfs

    def failing(directory, size_bytes=None, mode=0o755):
        raise MountError(errno.ENOMEM, f"cannot mount a tmpfs on {directory}: out of memory")

    volumes = [{"name": "creds", "secret": {"secretName": "db"}}]
    held = reader(secret__db={"data": {"pw": b64("s3cret")}})
    monkeypatch.setattr(manager_module, "mount_tmpfs", failing)
    with pytest.raises(VolumeSetupError, match="cannot mount a tmpfs"):
        await manager.setup(pod(volumes), held)
    assert not (manager.directories.volume("u-1", SECRET, "creds") / "pw").exists()
    monkeypatch.setattr(manager_module, "mount_tmpfs", real_mount)
    ready = await manager.setup(pod(volumes, uid="u-2"), held)
    assert os.path.ismount(ready["creds"].path)
