"""A pod's ``/etc/resolv.conf`` and ``/etc/hosts``, written by the agent under the
pod's directory and bind-mounted into each of its containers (the kubelet's
pkg/kubelet/network/dns and its managed hosts file)::

    <data_dir>/pods/<uid>/resolv.conf  -> /etc/resolv.conf  (read-only)
    <data_dir>/pods/<uid>/etc-hosts    -> /etc/hosts        (pods with an IP of their own)

resolv.conf by ``dnsPolicy``:

- ``ClusterFirst`` (the default): nameservers ``agent.cluster_dns`` (the kube-dns
  Service), ``search <ns>.svc.<domain> svc.<domain> <domain>`` followed by the node's
  own search domains, ``options ndots:5``. A hostNetwork pod gets ``Default`` instead,
  and so does every pod when ``agent.cluster_dns`` is empty (the kubelet's fallback).
- ``ClusterFirstWithHostNet``: ``ClusterFirst``'s, hostNetwork or not.
- ``Default``: the node's ``/etc/resolv.conf`` (nameservers, search, options).
- ``None``: nothing but ``dnsConfig``.

``dnsConfig`` is then merged as the kubelet merges it: its nameservers and searches
appended (duplicates dropped), its options replacing those of the same name or
appended; at most 3 nameservers and 32 search domains are kept (glibc's limits; the
API server refuses more in ``dnsConfig`` itself).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
from loguru import logger

from navarch.agent.podspec import sandbox_config
from navarch.runtime import Mount, SandboxStatus

HOST_RESOLV_CONF = Path("/etc/resolv.conf")
RESOLV_CONF, ETC_HOSTS = "resolv.conf", "etc-hosts"  # file names in the pod's directory
CLUSTER_NDOTS = "ndots:5"
MAX_NAMESERVERS = 3
MAX_SEARCHES = 32

# The kubelet's managedHostsHeader and loopback lines.
HOSTS_HEADER = """# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
fe00::0\tip6-mcastprefix
fe00::1\tip6-allnodes
fe00::2\tip6-allrouters
"""


@attrs.frozen
class ResolvConf:
    nameservers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> ResolvConf:
        """resolv.conf(5): ``nameserver`` lines add up; the last ``search`` wins;
        ``options`` add up. Comments start with ``#`` or ``;``."""
        nameservers: list[str] = []
        searches: list[str] = []
        options: list[str] = []
        for line in text.splitlines():
            fields = line.split("#", 1)[0].split(";", 1)[0].split()
            if not fields:
                continue
            if fields[0] == "nameserver" and len(fields) > 1:
                nameservers.append(fields[1])
            elif fields[0] == "search":
                searches = fields[1:]
            elif fields[0] == "options":
                options.extend(fields[1:])
        return cls(tuple(nameservers), tuple(searches), tuple(options))

    @classmethod
    def of_host(cls, path: Path = HOST_RESOLV_CONF) -> ResolvConf:
        try:
            return cls.parse(path.read_text())
        except OSError as exc:  # no resolv.conf on the node: an empty one, as the kubelet
            logger.bind(component="agent", path=str(path), error=str(exc)).warning(
                "cannot read the node's resolv.conf"
            )
            return cls()

    def render(self) -> str:
        lines = []
        if self.searches:
            lines.append("search " + " ".join(self.searches))
        lines.extend(f"nameserver {server}" for server in self.nameservers)
        if self.options:
            lines.append("options " + " ".join(self.options))
        return "".join(f"{line}\n" for line in lines)


def cluster_searches(namespace: str, domain: str) -> tuple[str, ...]:
    return (f"{namespace}.svc.{domain}", f"svc.{domain}", domain)


def pod_resolv_conf(
    pod: Any, *, cluster_dns: Iterable[str], cluster_domain: str, host: ResolvConf
) -> ResolvConf:
    """The resolv.conf of ``pod`` (a Pod model object), given the node's ``host``."""
    spec = pod.spec
    policy = spec.dns_policy or "ClusterFirst"
    servers = tuple(cluster_dns)
    if policy == "ClusterFirst" and spec.host_network:
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet") and not servers:
        policy = "Default"
    if policy in ("ClusterFirst", "ClusterFirstWithHostNet"):
        searches = cluster_searches(pod.metadata.namespace, cluster_domain) + host.searches
        base = ResolvConf(servers, searches, (CLUSTER_NDOTS,))
    elif policy == "None":
        base = ResolvConf()
    else:
        base = host
    config = spec.dns_config
    if config is not None:
        base = ResolvConf(
            _unique(base.nameservers + tuple(config.nameservers or ())),
            _unique(base.searches + tuple(config.searches or ())),
            _merge_options(base.options, config.options or ()),
        )
    return ResolvConf(
        base.nameservers[:MAX_NAMESERVERS], base.searches[:MAX_SEARCHES], base.options
    )


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _merge_options(existing: tuple[str, ...], extra: Iterable[Any]) -> tuple[str, ...]:
    """``name[:value]`` options; one of ``extra`` (PodDNSConfigOption) replaces the
    existing option of its name in place, or is appended."""
    merged: dict[str, str | None] = {}
    for option in existing:
        name, sep, value = option.partition(":")
        merged[name] = value if sep else None
    for option in extra:
        if option.name:
            merged[option.name] = option.value
    return tuple(name if value is None else f"{name}:{value}" for name, value in merged.items())


def pod_hosts(pod: Any, pod_ip: str, hostname: str, cluster_domain: str) -> str:
    """The kubelet's managed /etc/hosts: loopback, the pod's own address under its
    hostname (and ``<hostname>.<subdomain>.<ns>.svc.<domain>`` when it has a
    subdomain), then its hostAliases."""
    text = HOSTS_HEADER
    subdomain = pod.spec.subdomain
    if subdomain:
        fqdn = f"{hostname}.{subdomain}.{pod.metadata.namespace}.svc.{cluster_domain}"
        text += f"{pod_ip}\t{fqdn}\t{hostname}\n"
    else:
        text += f"{pod_ip}\t{hostname}\n"
    aliases = pod.spec.host_aliases or ()
    if aliases:
        text += "\n# Entries added by HostAliases.\n"
        for alias in aliases:
            text += f"{alias.ip}\t" + "\t".join(alias.hostnames or ()) + "\n"
    return text


def container_dns_mounts(
    agent: Any,
    pod: Any,
    sandbox: SandboxStatus,
    mounts: Iterable[Mount] = (),
    pod_ip: str | None = None,
) -> tuple[Mount, ...]:
    """:func:`dns_mounts` with the agent's settings: what every container of ``pod``
    gets, written before it is created; a file the container mounts itself at the
    same path (its own ``volumeMounts``) wins, as in the kubelet. ``pod_ip``: the
    pod's address when the runtime's sandbox does not know it (a network plugin's)."""
    taken = {m.container_path for m in mounts}
    found = dns_mounts(
        pod,
        sandbox,
        agent.volumes.directories.pod(pod.metadata.uid),
        hostname=sandbox_config(pod, agent.node_name).hostname,
        cluster_dns=agent.settings.cluster_dns,
        cluster_domain=agent.settings.cluster_domain,
        pod_ip=pod_ip,
    )
    return tuple(m for m in found if m.container_path not in taken)


def dns_mounts(
    pod: Any,
    sandbox: SandboxStatus,
    pod_dir: Path,
    *,
    hostname: str,
    cluster_dns: Iterable[str],
    cluster_domain: str,
    host_resolv_conf: Path = HOST_RESOLV_CONF,
    pod_ip: str | None = None,
) -> tuple[Mount, ...]:
    """Write the pod's resolv.conf (and /etc/hosts when it has an IP of its own) under
    ``pod_dir``; the mounts that put them in a container."""
    resolv = pod_resolv_conf(
        pod,
        cluster_dns=cluster_dns,
        cluster_domain=cluster_domain,
        host=ResolvConf.of_host(host_resolv_conf),
    )
    mounts = [Mount("/etc/resolv.conf", str(_write(pod_dir / RESOLV_CONF, resolv.render())), True)]
    ip = sandbox.ip if pod_ip is None else pod_ip
    if ip and not (sandbox.host_network or pod.spec.host_network):
        hosts = pod_hosts(pod, ip, hostname, cluster_domain)
        mounts.append(Mount("/etc/hosts", str(_write(pod_dir / ETC_HOSTS, hosts))))
    return tuple(mounts)


def _write(path: Path, text: str) -> Path:
    """Replace ``path`` with ``text`` unless it holds it already. A new file (rename),
    never a rewrite in place: a container started earlier keeps what it was given."""
    try:
        if path.read_text() == text:
            return path
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path
