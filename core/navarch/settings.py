"""Every setting of Navarch, declared once: key, kind, default, help and what is
allowed. :mod:`navarch.config` reads the file, the environment and the flags against
this table; ``navarch config reference`` and docs/configuration.md print it.
"""

from __future__ import annotations

from typing import Any

import attrs

ENV_PREFIX = "NAVARCH_"
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


@attrs.frozen
class Setting:
    key: str
    # str | optional_str | int | port | bool | choice | list | mapping | path | optional_path
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    env: str | None = None
    minimum: int | None = None  # for kind int

    @property
    def env_name(self) -> str:
        return self.env or ENV_PREFIX + self.key.replace(".", "_").upper()

    def allowed(self) -> str:
        return {
            "str": "a non-empty string",
            "optional_str": "a string, or empty",
            "int": f"an integer of at least {self.minimum}" if self.minimum else "an integer",
            "port": "an integer from 1 to 65535",
            "bool": "true or false",
            "choice": "one of " + ", ".join(self.choices),
            "list": "a list (comma-separated in the environment and flags)",
            "mapping": "a mapping (YAML flow form in the environment and flags, e.g. {a: 1})",
            "path": "a filesystem path",
            "optional_path": "a filesystem path, or empty",
        }[self.kind]


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "path", "/var/lib/navarch", "Where the store and agents keep state."),
    Setting("log.level", "choice", "INFO", "Lowest level logged.", LOG_LEVELS),
    Setting(
        "log.format",
        "choice",
        "text",
        "text: readable lines; json: one JSON object a line.",
        ("text", "json"),
    ),
    Setting("api.address", "str", "127.0.0.1", "Address the API server listens on."),
    Setting("api.port", "port", 6443, "Port the API server listens on."),
    Setting(
        "api.tls",
        "bool",
        True,
        "Serve HTTPS with the cluster's own CA (plain HTTP only on loopback).",
    ),
    Setting(
        "api.advertise_address",
        "optional_str",
        "",
        "Address kubeconfigs point at; empty: api.address, or when that is 0.0.0.0 or :: "
        "the address of the interface with the default route (as kube-apiserver does).",
    ),
    Setting(
        "api.cert_sans",
        "list",
        [],
        "Extra DNS names and IP addresses in the serving certificate.",
    ),
    Setting(
        "api.max_inflight", "int", 400, "Requests served at once before answering 429.", minimum=1
    ),
    Setting(
        "api.max_list_bytes_in_flight",
        "int",
        512 * 1024 * 1024,
        "Bytes of list bodies held at once (read, being sent); a list that would go above "
        "it while another is served gets 429 with Retry-After. A list alone may exceed it.",
        minimum=1,
    ),
    Setting(
        "api.service_cidr",
        "str",
        "10.43.0.0/16",
        "Range Services' ClusterIPs are allocated from (k3s' default); its first address "
        "is the kubernetes Service's.",
    ),
    Setting(
        "api.service_node_port_range",
        "str",
        "30000-32767",
        "Ports (LOW-HIGH, inclusive) NodePort and LoadBalancer Services are allocated from.",
    ),
    Setting(
        "admission.default_not_ready_toleration_seconds",
        "int",
        10,
        "Seconds a pod created without its own toleration of the node.kubernetes.io/"
        "not-ready NoExecute taint tolerates it (DefaultTolerationSeconds; Kubernetes: 300).",
        minimum=0,
    ),
    Setting(
        "admission.default_unreachable_toleration_seconds",
        "int",
        10,
        "Seconds a pod created without its own toleration of the node.kubernetes.io/"
        "unreachable NoExecute taint tolerates it (DefaultTolerationSeconds; Kubernetes: 300).",
        minimum=0,
    ),
    Setting("store.name", "str", "lmdb", "Store backend, by registered name."),
    Setting("store.options", "mapping", {}, "Options handed to the store backend."),
    Setting(
        "runtime.name",
        "optional_str",
        "containerd",
        "Container runtime of the node agent, by registered name (containerd, docker, "
        "sim, or a third party's); empty: none, and the agent refuses to start.",
    ),
    Setting("runtime.options", "mapping", {}, "Options handed to the container runtime."),
    Setting("scheduler.profile", "str", "spread", "Scheduler profile, by registered name."),
    Setting(
        "scheduler.weights",
        "mapping",
        {},
        "Score weights overriding the profile's, by plugin; 0 turns off a score or a core "
        "filter (node-name, cordon, node-affinity, taints, resources).",
    ),
    Setting(
        "kubeconfig",
        "optional_path",
        "",
        "Kubeconfig of daemons that are API clients "
        "(scheduler, controllers, agent); empty: <data_dir>/admin.kubeconfig.",
    ),
    Setting(
        "agent.node_name",
        "optional_str",
        "",
        "The Node this agent runs; empty: the machine's hostname (lower-cased).",
    ),
    Setting(
        "agent.node_ip",
        "optional_str",
        "",
        "Address the Node reports (InternalIP), where the API server reaches the agent's "
        "port; empty: the address of the interface with the default route, else 127.0.0.1.",
    ),
    Setting(
        "agent.address",
        "str",
        "0.0.0.0",
        "Address the agent's port (logs, exec: HTTPS, API server tokens) listens on.",
    ),
    Setting("agent.port", "int", 10250, "The agent's port; 0 picks a free one.", minimum=0),
    Setting(
        "agent.capacity",
        "mapping",
        {},
        "Node capacity overriding what is detected (cpu, memory, pods), e.g. "
        "{cpu: '4', memory: 8Gi, pods: '110'}: for several agents on one machine.",
    ),
    Setting("agent.labels", "mapping", {}, "Labels the Node registers with."),
    Setting(
        "agent.taints",
        "list",
        [],
        "Taints the Node registers with, as key=value:Effect (Effect NoSchedule, "
        "PreferNoSchedule or NoExecute).",
    ),
    Setting(
        "agent.lease_renew_seconds",
        "int",
        5,
        "How often the agent renews its Lease in kube-node-lease.",
        minimum=1,
    ),
    Setting(
        "agent.lease_duration_seconds",
        "int",
        40,
        "The Lease's leaseDurationSeconds: how long the node counts as alive unrenewed.",
        minimum=1,
    ),
    Setting(
        "agent.status_update_seconds",
        "int",
        60,
        "How often the Node's status (conditions' heartbeat) is written when nothing "
        "changed; a change is written at once.",
        minimum=1,
    ),
    Setting(
        "agent.relist_seconds",
        "int",
        1,
        "How often the agent lists its runtime's containers to notice exits.",
        minimum=1,
    ),
    Setting(
        "agent.pod_resync_seconds",
        "int",
        10,
        "How often each pod is looked at when nothing wakes it (jittered ±20%): also the "
        "period within which a changed ConfigMap or Secret reaches its pods' volumes.",
        minimum=1,
    ),
    Setting(
        "agent.backoff_initial_seconds",
        "int",
        10,
        "First restart back-off of a crashing container (doubles each time).",
        minimum=1,
    ),
    Setting(
        "agent.backoff_max_seconds",
        "int",
        300,
        "Longest restart back-off (CrashLoopBackOff, ImagePullBackOff).",
        minimum=1,
    ),
    Setting(
        "agent.network",
        "str",
        "none",
        "The network plugin giving each pod its network (navarch_register_networks; "
        "'cni': Navarch's bridge over the CNI plugins); 'none': pods get loopback only. "
        "Run the agent in the node's own network namespace: the plugin makes its bridge, "
        "routes and rules there.",
    ),
    Setting(
        "agent.network_options",
        "mapping",
        {},
        "Options handed to the network plugin (cni: bin_dir, bridge, mtu …; see "
        "docs/networking.md).",
    ),
    Setting(
        "agent.pod_cidr",
        "optional_str",
        "",
        "This node's pod address range; empty: the Node's spec.podCIDR, given by the "
        "node IPAM controller.",
    ),
    Setting(
        "agent.network_policy_kubeconfig",
        "optional_path",
        "",
        "A kubeconfig whose user may list and watch Pods, Namespaces and NetworkPolicies "
        "in every namespace (a viewer's): with it and a network plugin on, the agent "
        "enforces NetworkPolicies in its namespace's nftables (table inet navarch-policy). "
        "A node's own token may not read every pod (the Node authoriser), so enforcement "
        "runs with credentials of its own, as Kubernetes' policy agents do; empty: none.",
    ),
    Setting(
        "agent.service_proxy",
        "choice",
        "none",
        "The Service proxy the agent runs: 'nftables' programs ClusterIPs and NodePorts "
        "in a table of its own (removed when the agent stops for good); 'none': no proxy.",
        ("none", "nftables"),
    ),
    Setting(
        "agent.dns_address",
        "optional_str",
        "",
        "Address (host or host:port) where the agent serves cluster DNS over UDP and TCP "
        "from its watch cache; empty: no DNS server on this node.",
    ),
    Setting(
        "agent.cluster_dns",
        "list",
        ["10.43.0.10"],
        "Nameservers written into the resolv.conf of pods with dnsPolicy ClusterFirst "
        "(the kube-dns Service's ClusterIP).",
    ),
    Setting(
        "agent.cluster_domain",
        "str",
        "cluster.local",
        "The cluster's DNS domain: Services are <svc>.<ns>.svc.<domain>.",
    ),
    Setting(
        "agent.simulate",
        "int",
        0,
        "Run this many agents in one process (nodes <simulate_prefix>-0 …), for tests "
        "and benchmarks with runtime sim; 0: one agent for this machine.",
        minimum=0,
    ),
    Setting("agent.simulate_prefix", "str", "sim-node", "Name prefix of simulated nodes."),
    Setting(
        "controllers.enabled",
        "list",
        ["*"],
        "Controllers to run; '*' runs all, '-name' leaves one out ('*,-node-lifecycle').",
    ),
    Setting(
        "controllers.options",
        "mapping",
        {},
        "Options of the controllers, by controller name, e.g. "
        "{node-lifecycle: {node_monitor_grace_seconds: 20}}.",
    ),
    Setting(
        "leader_election.enabled",
        "bool",
        True,
        "Whether the scheduler and the controller manager elect a leader through a Lease "
        "in kube-system, so that of several copies exactly one acts.",
    ),
    Setting(
        "leader_election.lease_duration_seconds",
        "int",
        15,
        "How long a candidate waits after the leader's last renewal it saw before taking over.",
        minimum=2,
    ),
    Setting(
        "leader_election.renew_deadline_seconds",
        "int",
        10,
        "A leader that could not renew for this long stops acting (less than the lease duration).",
        minimum=1,
    ),
    Setting(
        "leader_election.retry_period_seconds",
        "int",
        2,
        "How often candidates try to take the Lease and the leader renews it.",
        minimum=1,
    ),
    Setting(
        "plugins.disabled",
        "list",
        [],
        "Plugins not to load, by name.",
        env="NAVARCH_DISABLE_PLUGINS",
    ),
    Setting(
        "plugins.trace", "bool", False, "Log every hook call (at DEBUG).", env="NAVARCH_TRACE_HOOKS"
    ),
)
