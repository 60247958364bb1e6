"""A pod's resolv.conf and /etc/hosts (issue 24 item 6), as the kubelet writes them:
per dnsPolicy, with dnsConfig merged, and the files the agent mounts in each
container."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from navarch.agent.dnsconfig import (
    ResolvConf,
    container_dns_mounts,
    dns_mounts,
    pod_hosts,
    pod_resolv_conf,
)
from navarch.api.core_v1 import Pod
from navarch.runtime import Mount, SandboxState, SandboxStatus

HOST = ResolvConf.parse(
    """# the node's
nameserver 192.0.2.53
nameserver 192.0.2.54 ; a comment
search corp.example lab.example
options timeout:2 attempts:3
"""
)
CLUSTER = {"cluster_dns": ["10.43.0.10"], "cluster_domain": "cluster.local", "host": HOST}


def pod(**spec: Any) -> Any:
    return Pod.from_dict(
        {
            "metadata": {"name": "web-0", "namespace": "shop", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
        }
    )


def test_cluster_first_names_the_cluster_dns_with_the_search_path_and_ndots():
    conf = pod_resolv_conf(pod(), **CLUSTER)
    assert conf.render() == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local "
        "corp.example lab.example\n"
        "nameserver 10.43.0.10\n"
        "options ndots:5\n"
    )
    assert pod_resolv_conf(pod(dnsPolicy="ClusterFirst"), **CLUSTER) == conf


def test_host_network_pods_get_the_nodes_unless_cluster_first_with_host_net():
    assert pod_resolv_conf(pod(hostNetwork=True), **CLUSTER) == HOST
    with_host_net = pod_resolv_conf(
        pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"), **CLUSTER
    )
    assert with_host_net.nameservers == ("10.43.0.10",)
    assert with_host_net.searches[0] == "shop.svc.cluster.local"
    # Without hostNetwork it is ClusterFirst.
    assert pod_resolv_conf(pod(dnsPolicy="ClusterFirstWithHostNet"), **CLUSTER) == (
        pod_resolv_conf(pod(), **CLUSTER)
    )


def test_default_is_the_nodes_and_no_cluster_dns_falls_back_to_it():
    assert pod_resolv_conf(pod(dnsPolicy="Default"), **CLUSTER) == HOST
    assert pod_resolv_conf(pod(), **{**CLUSTER, "cluster_dns": []}) == HOST
    assert HOST.nameservers == ("192.0.2.53", "192.0.2.54")
    assert HOST.options == ("timeout:2", "attempts:3")


def test_none_is_only_dns_config():
    conf = pod_resolv_conf(
        pod(
            dnsPolicy="None",
            dnsConfig={
                "nameservers": ["198.51.100.1"],
                "searches": ["a.example"],
                "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
            },
        ),
        **CLUSTER,
    )
    assert conf.render() == ("search a.example\nnameserver 198.51.100.1\noptions ndots:2 edns0\n")


def test_dns_config_is_merged_as_the_kubelet_merges_it():
    conf = pod_resolv_conf(
        pod(
            dnsConfig={
                "nameservers": ["10.43.0.10", "198.51.100.1", "198.51.100.2", "198.51.100.3"],
                "searches": ["svc.cluster.local", "extra.example"],
                "options": [{"name": "ndots", "value": "1"}, {"name": "single-request"}],
            },
        ),
        **CLUSTER,
    )
    # Appended without duplicates, then cut to glibc's 3 nameservers.
    assert conf.nameservers == ("10.43.0.10", "198.51.100.1", "198.51.100.2")
    assert conf.searches == (
        "shop.svc.cluster.local",
        "svc.cluster.local",
        "cluster.local",
        "corp.example",
        "lab.example",
        "extra.example",
    )
    # An option of the same name replaces the policy's in place.
    assert conf.options == ("ndots:1", "single-request")


def test_the_hosts_file_names_the_pod_under_its_hostname_and_subdomain():
    plain = pod_hosts(pod(), "10.42.1.7", "web-0", "cluster.local")
    assert plain.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert plain.endswith("\n10.42.1.7\tweb-0\n")
    stateful = pod_hosts(
        pod(
            subdomain="web",
            hostAliases=[{"ip": "192.0.2.1", "hostnames": ["foo.local", "bar.local"]}],
        ),
        "10.42.1.7",
        "web-0",
        "cluster.local",
    )
    assert "10.42.1.7\tweb-0.web.shop.svc.cluster.local\tweb-0\n" in stateful
    assert stateful.endswith("# Entries added by HostAliases.\n192.0.2.1\tfoo.local\tbar.local\n")


def sandbox(ip: str = "", host_network: bool = False) -> SandboxStatus:
    return SandboxStatus("s1", SandboxState.READY, ip=ip, host_network=host_network)


def test_the_files_are_written_and_mounted(tmp_path: Path):
    host_file = tmp_path / "host-resolv.conf"
    host_file.write_text("nameserver 192.0.2.53\n")
    pod_dir = tmp_path / "pods" / "u1"
    settings = {
        "hostname": "web-0",
        "cluster_dns": ["10.43.0.10"],
        "cluster_domain": "cluster.local",
        "host_resolv_conf": host_file,
    }
    mounts = dns_mounts(pod(), sandbox("10.42.1.7"), pod_dir, **settings)
    assert mounts == (
        Mount("/etc/resolv.conf", str(pod_dir / "resolv.conf"), read_only=True),
        Mount("/etc/hosts", str(pod_dir / "etc-hosts")),
    )
    assert "nameserver 10.43.0.10\n" in (pod_dir / "resolv.conf").read_text()
    assert "10.42.1.7\tweb-0\n" in (pod_dir / "etc-hosts").read_text()

    # Unchanged content: the file is left as it is (a running container keeps it).
    inode = (pod_dir / "resolv.conf").stat().st_ino
    dns_mounts(pod(), sandbox("10.42.1.7"), pod_dir, **settings)
    assert (pod_dir / "resolv.conf").stat().st_ino == inode

    # The address a network plugin gave, when the runtime's sandbox does not know it.
    plugin = dns_mounts(pod(), sandbox(), tmp_path / "cni", pod_ip="10.42.1.8", **settings)
    assert [m.container_path for m in plugin] == ["/etc/resolv.conf", "/etc/hosts"]
    assert "10.42.1.8\tweb-0\n" in (tmp_path / "cni" / "etc-hosts").read_text()

    # No address of its own (host network, or loopback only): no hosts file.
    for no_ip in (sandbox(), sandbox("192.0.2.9", host_network=True)):
        only = dns_mounts(pod(hostNetwork=True), no_ip, tmp_path / "other", **settings)
        assert [m.container_path for m in only] == ["/etc/resolv.conf"]
        assert (tmp_path / "other" / "resolv.conf").read_text() == "nameserver 192.0.2.53\n"


def test_a_containers_own_mount_at_the_same_path_wins(tmp_path: Path):
    class Agent:
        node_name = "n1"

        class settings:
            cluster_dns = ("10.43.0.10",)
            cluster_domain = "cluster.local"

        class volumes:
            class directories:
                @staticmethod
                def pod(uid: str) -> Path:
                    return tmp_path / uid

    own = Mount("/etc/resolv.conf", "/somewhere/else", read_only=True)
    added = container_dns_mounts(Agent(), pod(), sandbox("10.42.1.7"), (own,))
    assert [m.container_path for m in added] == ["/etc/hosts"]
