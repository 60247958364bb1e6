"""A private containerd with its CRI plugin enabled, for the CRI runtime's tests: the
same private daemon as :mod:`navarch.testing.containerd` (own root, state, socket
and configuration under a temp dir, stopped by pid), configured so that its CRI
plugin serves ``runtime.v1`` on the daemon's socket without reaching any network:

* ``sandbox_image`` is a pause-like image the fixture builds from Debian's static
  busybox (``sleep`` as its command) and imports into the ``k8s.io`` namespace
  before anything asks for it: the default pause image lives on a public registry
  and must never be pulled;
* CNI: the plugins of Debian's ``containernetworking-plugins`` with a configuration
  of the fixture's own (its own conf and bin directories, nothing in /etc/cni), so
  that a pod's network namespace holds loopback alone until pod networking arrives.
  containerd brings each pod's loopback up with Debian's ``loopback`` plugin, but it
  also insists that the pod's network report an address on ``eth0``; the network
  configured here is one small plugin of the fixture's (``navarch-loopback-ip``, a
  shell script) that creates nothing and answers with the pod's loopback address,
  127.0.0.1 (which the CRI runtime reports as no pod IP). No bridge, no veth, no
  address outside 127.0.0.0/8 on this machine;
* the streaming server (exec) listens on 127.0.0.1, on a port of its own;
* pulls go to loopback registries only: :meth:`CriContainerdProcess.trust_plain_http`
  writes the ``hosts.toml`` that lets containerd speak plain HTTP to one.

    with CriContainerdProcess(tmp_path / "cri") as containerd:
        runtime = CriRuntime(CriOptions(endpoint=f"unix://{containerd.socket_path}"), ...)

Needs root, Debian's containerd and containernetworking-plugins, and busybox-static.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Self

from navarch.runtime.archive import busybox_files, write_image_archive
from navarch.testing.containerd import ContainerdProcess, containerd_problem
from navarch.testing.daemon import free_port, require_or_skip
from navarch.up.containerd import DISABLED_PLUGINS, containerd_config

# Where Debian's containernetworking-plugins puts the plugins.
CNI_PLUGINS = Path("/usr/lib/cni")
CRI_NAMESPACE = "k8s.io"  # where containerd's CRI plugin keeps its images and containers
PAUSE_IMAGE = "navarch.test/pause:1"
CTR = "/usr/bin/ctr"
# Plugins the CRI daemon does without: snapshotters needing file systems or devices a
# test lacks, tracing.
# The private daemon's usual set, less the CRI plugin this daemon is for.
_DISABLED_PLUGINS = tuple(name for name in DISABLED_PLUGINS if name != "io.containerd.grpc.v1.cri")


def cri_problem() -> str | None:
    """Why a private containerd with CRI cannot run here; None when it can."""
    problem = containerd_problem()
    if problem is not None:
        return problem
    if not (CNI_PLUGINS / "loopback").is_file():
        return (
            f"{CNI_PLUGINS / 'loopback'} is missing: install Debian's "
            "containernetworking-plugins (make system-deps)"
        )
    if not os.access(CTR, os.X_OK):
        return f"{CTR} is missing: install Debian's containerd (make system-deps)"
    return None


def cri_containerd_config(
    *,
    root: Path,
    state: Path,
    socket_path: Path,
    opt: Path,
    cni_conf_dir: Path,
    cni_bin_dir: Path,
    registry_hosts_dir: Path,
    stream_port: int,
) -> str:
    """A containerd 1.6 configuration (version 2) for a private daemon with CRI."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    base = containerd_config(
        root=root, state=state, socket_path=socket_path, opt=opt, disabled_plugins=_DISABLED_PLUGINS
    )
    return base + (
        f"\n[{cri}]\n"
        f'  sandbox_image = "{PAUSE_IMAGE}"\n'
        '  stream_server_address = "127.0.0.1"\n'
        f'  stream_server_port = "{stream_port}"\n'
        "  enable_selinux = false\n"
        "  disable_apparmor = true\n"
        "  restrict_oom_score_adj = true\n"
        # the pods' network namespaces under the private state, not /var/run/netns:
        # removing the daemon's directory removes them too
        "  netns_mounts_under_state_dir = true\n"
        f"\n[{cri}.containerd]\n"
        '  snapshotter = "overlayfs"\n'
        '  default_runtime_name = "runc"\n'
        f"\n[{cri}.containerd.runtimes.runc]\n"
        '  runtime_type = "io.containerd.runc.v2"\n'
        f"\n[{cri}.cni]\n"
        f'  bin_dir = "{cni_bin_dir}"\n'
        f'  conf_dir = "{cni_conf_dir}"\n'
        "  max_conf_num = 1\n"
        f"\n[{cri}.registry]\n"
        f'  config_path = "{registry_hosts_dir}"\n'
    )


# The pod network: loopback alone (no address outside 127.0.0.0/8 on this machine).
LOOPBACK_PLUGIN = "navarch-loopback-ip"
LOOPBACK_NETWORK = {
    "cniVersion": "0.4.0",
    "name": "navarch-loopback",
    "plugins": [{"type": LOOPBACK_PLUGIN}],
}
# A CNI plugin (the CNI spec: the command in CNI_COMMAND, the configuration on stdin,
# the result on stdout) that creates nothing: the pod's loopback is already up (the
# runtime's own loopback network), and ADD reports 127.0.0.1 as the address of the
# interface asked for, which containerd requires of the pod's network.
LOOPBACK_PLUGIN_SCRIPT = """#!/bin/sh
cat >/dev/null
case "$CNI_COMMAND" in
ADD)
  printf '{"cniVersion":"0.4.0","interfaces":[{"name":"%s","sandbox":"%s"}],' \
    "$CNI_IFNAME" "$CNI_NETNS"
  printf '"ips":[{"version":"4","address":"127.0.0.1/8","interface":0}]}'
  ;;
VERSION)
  printf '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}'
  ;;
esac
"""


def start_private_cri_containerd(directory: Path) -> CriContainerdProcess:
    """A private containerd with CRI under ``directory``, started, its pause image
    imported; a test that cannot have one fails under CI=true, skipped elsewhere."""
    require_or_skip(cri_problem())
    return CriContainerdProcess(directory).start()


class CriContainerdProcess(ContainerdProcess):
    """containerd with its CRI plugin on (see the module's docstring)."""

    def __init__(self, directory: Path, *, containerd: str | None = None):
        if containerd is None:
            super().__init__(directory)
        else:
            super().__init__(directory, containerd=containerd)
        self.stream_port = free_port()

    @property
    def endpoint(self) -> str:
        """The CRI endpoint: containerd's own socket."""
        return f"unix://{self.socket_path}"

    @property
    def cni_conf_dir(self) -> Path:
        return self.directory / "cni" / "net.d"

    @property
    def cni_bin_dir(self) -> Path:
        return self.directory / "cni" / "bin"

    @property
    def registry_hosts_dir(self) -> Path:
        return self.directory / "certs.d"

    def command(self) -> list[str]:
        self._write_cni_bin_dir()
        self.cni_conf_dir.mkdir(parents=True, exist_ok=True)
        (self.cni_conf_dir / "10-navarch-loopback.conflist").write_text(
            json.dumps(LOOPBACK_NETWORK, indent=2)
        )
        self.registry_hosts_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            cri_containerd_config(
                root=self.root,
                state=self.state,
                socket_path=self.socket_path,
                opt=self.directory / "opt",
                cni_conf_dir=self.cni_conf_dir,
                cni_bin_dir=self.cni_bin_dir,
                registry_hosts_dir=self.registry_hosts_dir,
                stream_port=self.stream_port,
            )
        )
        return [self.containerd, "--config", str(self.config_path)]

    def _write_cni_bin_dir(self) -> None:
        """Debian's plugins (linked) and the loopback-address plugin, in one directory:
        containerd 1.6 takes one plugin directory."""
        self.cni_bin_dir.mkdir(parents=True, exist_ok=True)
        for plugin in CNI_PLUGINS.iterdir():
            link = self.cni_bin_dir / plugin.name
            if not link.exists():
                link.symlink_to(plugin)
        script = self.cni_bin_dir / LOOPBACK_PLUGIN
        script.write_text(LOOPBACK_PLUGIN_SCRIPT)
        script.chmod(0o755)

    def start(self, timeout: float = 60.0) -> Self:
        super().start(timeout)
        self.import_archive(self._pause_archive())
        return self

    def _pause_archive(self) -> Path:
        archive = self.directory / "pause.image.tar"
        if not archive.exists():
            content = busybox_files()
            # the sandbox's process: it only holds the pod's namespaces, until SIGKILL
            write_image_archive(
                archive,
                PAUSE_IMAGE,
                content.files,
                symlinks=content.symlinks,
                cmd=("sleep", "2147483647"),
            )
        return archive

    def import_archive(self, archive: Path) -> None:
        """Import an image archive into the CRI plugin's namespace with ``ctr`` (what an
        operator does to give CRI an image without a registry)."""
        subprocess.run(
            [
                CTR,
                "--address",
                str(self.socket_path),
                "--namespace",
                CRI_NAMESPACE,
                "images",
                "import",
                str(archive),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def remove(self) -> None:
        """As ContainerdProcess.remove, and the cgroups of the CRI plugin's containers
        and sandboxes killed with their shims (runc never got to delete them):
        ``/sys/fs/cgroup/*/k8s.io/<id>``, the CRI plugin's cgroupfs layout."""
        ids = self._container_ids()
        super().remove()
        remove_cgroups(ids)

    def _container_ids(self) -> list[str]:
        if self.process is None or self.process.poll() is not None:
            return []
        try:
            done = subprocess.run(
                [CTR, "--address", str(self.socket_path), "--namespace", CRI_NAMESPACE,
                 "containers", "ls", "--quiet"],
                capture_output=True, text=True, timeout=30, check=True,
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError):
            return []
        return done.stdout.split()

    def trust_plain_http(self, host: str) -> None:
        """Let containerd pull from the registry at ``host`` (``127.0.0.1:PORT``) over
        plain HTTP: a ``hosts.toml`` in the registry configuration directory, read at
        each pull."""
        if not host.startswith(("127.", "localhost", "[::1]")):
            raise ValueError(f"{host}: only a loopback registry is trusted over plain HTTP")
        directory = self.registry_hosts_dir / host
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "hosts.toml").write_text(
            f'server = "http://{host}"\n\n'
            f'[host."http://{host}"]\n'
            '  capabilities = ["pull", "resolve"]\n'
        )


def remove_cgroups(ids: list[str], attempts: int = 20) -> None:
    """Remove the (empty) cgroup directories ``k8s.io/<id>`` in every hierarchy; a
    killed process leaves its cgroup soon after, so a few bounded retries."""
    for _ in range(attempts):
        left = [
            path
            for container_id in ids
            for path in Path("/sys/fs/cgroup").glob(f"*/{CRI_NAMESPACE}/{container_id}")
        ]
        for path in left:
            with contextlib.suppress(OSError):
                path.rmdir()
        if not any(path.exists() for path in left):
            return
        time.sleep(0.25)
