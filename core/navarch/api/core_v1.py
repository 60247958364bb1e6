"""The core/v1 kinds Navarch serves: Namespace, Pod, Node, Event.

Fields Navarch acts on are ``wire()`` attributes. Every other field Kubernetes defines
at that level is either a typed ``kept()`` attribute (the whole PodSpec: validated as
Kubernetes validates it) or listed in ``kubernetes_only`` and kept verbatim (status
details Navarch does not report).
"""

from __future__ import annotations

from navarch.api.defaults import DEFAULT_TERMINATION_MESSAGE_PATH
from navarch.api.meta import ObjectMeta, TopLevel
from navarch.api.pod_kept import (
    ContainerResizePolicy,
    EnvFromSource,
    EnvVarSource,
    HostAlias,
    Lifecycle,
    LocalObjectReference,
    PodAffinity,
    PodDNSConfig,
    PodOS,
    PodReadinessGate,
    PodResourceClaim,
    PodSchedulingGate,
    PodSecurityContext,
    Probe,
    ResourceClaim,
    SecurityContext,
    TopologySpreadConstraint,
    Volume,
    VolumeDevice,
    VolumeMount,
)
from navarch.api.quantity import Quantity
from navarch.api.schema import Model, kept, model, wire

# --- pods ----------------------------------------------------------------------------
#
# ``wire()`` fields are the ones Navarch acts on; ``kept()`` ones are typed and
# validated like the rest but only stored and returned (see ``pod_kept``); a ``default``
# is Kubernetes' own, which draws no "ignored field" warning.


@model()
class EnvVar(Model):
    name: str | None = wire()
    value: str | None = wire()
    value_from: EnvVarSource | None = wire()  # fieldRef, resourceFieldRef: the agent


@model()
class ContainerPort(Model):
    name: str | None = wire()
    container_port: int | None = wire()
    host_port: int | None = wire()
    host_ip: str | None = wire("hostIP")
    protocol: str | None = wire()


@model()
class ResourceRequirements(Model):
    limits: dict[str, Quantity] | None = wire()
    requests: dict[str, Quantity] | None = wire()
    claims: tuple[ResourceClaim, ...] | None = kept()


# Alpha in Kubernetes 1.34 (container restart rules): kept verbatim.
_CONTAINER_KUBERNETES_ONLY = ("restartPolicyRules",)


@model(kubernetes_only=_CONTAINER_KUBERNETES_ONLY)
class Container(Model):
    name: str | None = wire()
    image: str | None = wire()
    command: tuple[str, ...] | None = wire()
    args: tuple[str, ...] | None = wire()
    working_dir: str | None = wire()
    env: tuple[EnvVar, ...] | None = wire()
    ports: tuple[ContainerPort, ...] | None = wire()
    resources: ResourceRequirements | None = wire()
    image_pull_policy: str | None = wire()
    env_from: tuple[EnvFromSource, ...] | None = wire()  # ConfigMaps, Secrets: the agent
    resize_policy: tuple[ContainerResizePolicy, ...] | None = kept()
    restart_policy: str | None = kept()
    volume_mounts: tuple[VolumeMount, ...] | None = wire()  # mounted by the agent
    volume_devices: tuple[VolumeDevice, ...] | None = kept()
    liveness_probe: Probe | None = wire()  # acted on by the agent
    readiness_probe: Probe | None = wire()
    startup_probe: Probe | None = wire()
    lifecycle: Lifecycle | None = wire()  # preStop: the agent
    termination_message_path: str | None = kept(default=DEFAULT_TERMINATION_MESSAGE_PATH)
    termination_message_policy: str | None = kept(default="File")
    security_context: SecurityContext | None = kept()
    stdin: bool | None = wire()
    stdin_once: bool | None = wire()
    tty: bool | None = wire()


@model(kubernetes_only=_CONTAINER_KUBERNETES_ONLY)
class EphemeralContainer(Container):
    target_container_name: str | None = wire()  # its pid namespace is shared


@model()
class NodeSelectorRequirement(Model):
    key: str | None = wire()
    operator: str | None = wire()
    values: tuple[str, ...] | None = wire()


@model()
class NodeSelectorTerm(Model):
    match_expressions: tuple[NodeSelectorRequirement, ...] | None = wire()
    match_fields: tuple[NodeSelectorRequirement, ...] | None = wire()


@model()
class NodeSelector(Model):
    node_selector_terms: tuple[NodeSelectorTerm, ...] | None = wire()


@model()
class PreferredSchedulingTerm(Model):
    weight: int | None = wire()
    preference: NodeSelectorTerm | None = wire()


@model()
class NodeAffinity(Model):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = wire()
    preferred_during_scheduling_ignored_during_execution: (
        tuple[PreferredSchedulingTerm, ...] | None
    ) = wire()


@model()
class Affinity(Model):
    node_affinity: NodeAffinity | None = wire()
    pod_affinity: PodAffinity | None = kept()
    pod_anti_affinity: PodAffinity | None = kept()


@model()
class Toleration(Model):
    key: str | None = wire()
    operator: str | None = wire()
    value: str | None = wire()
    effect: str | None = wire()
    toleration_seconds: int | None = wire()


@model(kubernetes_only=("hostnameOverride",))  # alpha in Kubernetes 1.34
class PodSpec(Model):
    containers: tuple[Container, ...] | None = wire()
    restart_policy: str | None = wire()
    termination_grace_period_seconds: int | None = wire()
    node_selector: dict[str, str] | None = wire()
    node_name: str | None = wire()
    host_network: bool | None = wire()
    affinity: Affinity | None = wire()
    scheduler_name: str | None = wire()
    tolerations: tuple[Toleration, ...] | None = wire()
    priority: int | None = wire()
    volumes: tuple[Volume, ...] | None = wire()  # set up by the agent
    init_containers: tuple[Container, ...] | None = wire()  # run by the agent
    ephemeral_containers: tuple[EphemeralContainer, ...] | None = wire()  # run by the agent
    active_deadline_seconds: int | None = wire()  # the agent fails the pod after it
    dns_policy: str | None = wire()  # the agent writes the pod's resolv.conf by it
    # The ServiceAccount admission plugin sets both to "default".
    service_account_name: str | None = kept(default="default")
    service_account: str | None = kept(default="default")
    automount_service_account_token: bool | None = kept(default=True)
    host_pid: bool | None = kept("hostPID", default=False)
    host_ipc: bool | None = kept("hostIPC", default=False)
    share_process_namespace: bool | None = kept(default=False)
    security_context: PodSecurityContext | None = kept()
    image_pull_secrets: tuple[LocalObjectReference, ...] | None = wire()  # the agent's pulls
    hostname: str | None = wire()
    subdomain: str | None = wire()  # the pod's FQDN in its /etc/hosts
    host_aliases: tuple[HostAlias, ...] | None = wire()  # the pod's /etc/hosts
    priority_class_name: str | None = kept()
    dns_config: PodDNSConfig | None = wire()  # merged into the pod's resolv.conf
    readiness_gates: tuple[PodReadinessGate, ...] | None = kept()
    runtime_class_name: str | None = kept()
    enable_service_links: bool | None = kept(default=True)
    # The Priority admission plugin sets it.
    preemption_policy: str | None = kept(default="PreemptLowerPriority")
    overhead: dict[str, Quantity] | None = kept()
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...] | None = kept()
    set_hostname_as_fqdn: bool | None = kept("setHostnameAsFQDN", default=False)
    os: PodOS | None = kept()
    host_users: bool | None = kept(default=True)
    scheduling_gates: tuple[PodSchedulingGate, ...] | None = kept()
    resource_claims: tuple[PodResourceClaim, ...] | None = kept()
    resources: ResourceRequirements | None = kept()


@model()
class PodCondition(Model):
    type: str | None = wire()
    status: str | None = wire()
    last_probe_time: str | None = wire()
    last_transition_time: str | None = wire()
    reason: str | None = wire()
    message: str | None = wire()


@model()
class ContainerStateWaiting(Model):
    reason: str | None = wire()
    message: str | None = wire()


@model()
class ContainerStateRunning(Model):
    started_at: str | None = wire()


@model()
class ContainerStateTerminated(Model):
    exit_code: int | None = wire()
    signal: int | None = wire()
    reason: str | None = wire()
    message: str | None = wire()
    started_at: str | None = wire()
    finished_at: str | None = wire()
    container_id: str | None = wire("containerID")


@model()
class ContainerState(Model):
    waiting: ContainerStateWaiting | None = wire()
    running: ContainerStateRunning | None = wire()
    terminated: ContainerStateTerminated | None = wire()


@model(
    kubernetes_only=(
        "allocatedResources",
        "resources",
        "volumeMounts",
        "user",
        "allocatedResourcesStatus",
        "stopSignal",
    )
)
class ContainerStatus(Model):
    name: str | None = wire()
    state: ContainerState | None = wire()
    last_state: ContainerState | None = wire()
    ready: bool | None = wire()
    restart_count: int | None = wire()
    image: str | None = wire()
    image_id: str | None = wire("imageID")
    container_id: str | None = wire("containerID")
    started: bool | None = wire()


@model(
    kubernetes_only=(
        "nominatedNodeName",
        "hostIPs",
        "podIPs",
        "initContainerStatuses",
        "qosClass",
        "ephemeralContainerStatuses",
        "resize",
        "resourceClaimStatuses",
        "observedGeneration",
    )
)
class PodStatus(Model):
    phase: str | None = wire()
    conditions: tuple[PodCondition, ...] | None = wire()
    message: str | None = wire()
    reason: str | None = wire()
    host_ip: str | None = wire("hostIP")
    pod_ip: str | None = wire("podIP")
    start_time: str | None = wire()
    container_statuses: tuple[ContainerStatus, ...] | None = wire()


@model()
class Pod(TopLevel):
    API_VERSION, KIND, RESOURCE = "v1", "Pod", "pods"

    spec: PodSpec | None = wire()
    status: PodStatus | None = wire()


@model()
class PodTemplateSpec(Model):
    metadata: ObjectMeta | None = wire()
    spec: PodSpec | None = wire()


# --- nodes ---------------------------------------------------------------------------


@model()
class Taint(Model):
    key: str | None = wire()
    value: str | None = wire()
    effect: str | None = wire()
    time_added: str | None = wire()


@model(kubernetes_only=("providerID", "configSource", "externalID"))
class NodeSpec(Model):
    # The node's range of pod addresses, given once by the node IPAM controller
    # (navarch.controllers.nodeipam); podCIDR is podCIDRs[0], at most one per family.
    pod_cidr: str | None = wire("podCIDR")
    pod_cidrs: tuple[str, ...] | None = wire("podCIDRs")
    unschedulable: bool | None = wire()
    taints: tuple[Taint, ...] | None = wire()


@model()
class NodeCondition(Model):
    type: str | None = wire()
    status: str | None = wire()
    last_heartbeat_time: str | None = wire()
    last_transition_time: str | None = wire()
    reason: str | None = wire()
    message: str | None = wire()


@model()
class NodeAddress(Model):
    type: str | None = wire()
    address: str | None = wire()


@model()
class NodeSystemInfo(Model):
    machine_id: str | None = wire("machineID")
    system_uuid: str | None = wire("systemUUID")
    boot_id: str | None = wire("bootID")
    kernel_version: str | None = wire()
    os_image: str | None = wire()
    container_runtime_version: str | None = wire()
    kubelet_version: str | None = wire()
    kube_proxy_version: str | None = wire()
    operating_system: str | None = wire()
    architecture: str | None = wire()


@model()
class DaemonEndpoint(Model):
    port: int | None = wire("Port")  # capitalised on the wire, as in Kubernetes


@model()
class NodeDaemonEndpoints(Model):
    kubelet_endpoint: DaemonEndpoint | None = wire()


@model(
    kubernetes_only=(
        "phase",
        "images",
        "volumesInUse",
        "volumesAttached",
        "config",
        "runtimeHandlers",
        "features",
        "declaredFeatures",
    )
)
class NodeStatus(Model):
    capacity: dict[str, Quantity] | None = wire()
    allocatable: dict[str, Quantity] | None = wire()
    conditions: tuple[NodeCondition, ...] | None = wire()
    addresses: tuple[NodeAddress, ...] | None = wire()
    node_info: NodeSystemInfo | None = wire()
    # Where the API server reaches the node's agent for logs and exec.
    daemon_endpoints: NodeDaemonEndpoints | None = wire()


@model()
class Node(TopLevel):
    API_VERSION, KIND, RESOURCE, NAMESPACED = "v1", "Node", "nodes", False

    spec: NodeSpec | None = wire()
    status: NodeStatus | None = wire()


# --- namespaces ----------------------------------------------------------------------


@model()
class NamespaceSpec(Model):
    finalizers: tuple[str, ...] | None = wire()


@model(kubernetes_only=("conditions",))
class NamespaceStatus(Model):
    phase: str | None = wire()


@model()
class Namespace(TopLevel):
    API_VERSION, KIND, RESOURCE, NAMESPACED = "v1", "Namespace", "namespaces", False

    spec: NamespaceSpec | None = wire()
    status: NamespaceStatus | None = wire()


# --- events --------------------------------------------------------------------------


@model()
class ObjectReference(Model):
    api_version: str | None = wire()
    kind: str | None = wire()
    namespace: str | None = wire()
    name: str | None = wire()
    uid: str | None = wire()
    resource_version: str | None = wire()
    field_path: str | None = wire()


@model()
class EventSource(Model):
    component: str | None = wire()
    host: str | None = wire()


@model(kubernetes_only=("series", "action", "related", "eventTime"))
class Event(TopLevel):
    API_VERSION, KIND, RESOURCE = "v1", "Event", "events"

    involved_object: ObjectReference | None = wire()
    reason: str | None = wire()
    message: str | None = wire()
    source: EventSource | None = wire()
    first_timestamp: str | None = wire()
    last_timestamp: str | None = wire()
    count: int | None = wire()
    type: str | None = wire()
    reporting_component: str | None = wire()
    reporting_instance: str | None = wire()
