"""The values the runtime contract speaks: what the agent asks for (configs) and what
the runtime reports (statuses). Frozen records; times are Unix seconds (float, UTC),
``None`` when a thing has not happened yet."""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs


def _frozen_map(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


@attrs.frozen
class RuntimeVersion:
    name: str  # "docker", "containerd", "sim" … as the Node's containerRuntimeVersion
    version: str  # the daemon's own version
    api_version: str = ""

    @property
    def node_info(self) -> str:
        """Kubernetes' ``nodeInfo.containerRuntimeVersion`` form: ``docker://20.10.24``."""
        return f"{self.name}://{self.version}"


@attrs.frozen
class RegistryAuth:
    """Credentials for one pull (from an image pull secret, or the runtime's options)."""

    username: str = ""
    password: str = attrs.field(default="", repr=False)
    identity_token: str = attrs.field(default="", repr=False)


@attrs.frozen
class ImageRef:
    """An image the runtime holds. ``id`` is its content id (``sha256:…``, the config
    digest); ``tags`` its names (``127.0.0.1:5000/busybox:1``); ``digests`` the
    repository digests it was pulled by (``name@sha256:…``)."""

    id: str
    tags: tuple[str, ...] = ()
    digests: tuple[str, ...] = ()
    size: int = 0


@attrs.frozen
class PortMapping:
    container_port: int
    protocol: str = "TCP"
    host_port: int = 0
    host_ip: str = ""


@attrs.frozen
class SandboxConfig:
    """A pod's sandbox: the network namespace (and hostname) its containers share.
    ``host_network`` uses the host's namespace; otherwise the pod gets a private one
    holding only loopback (until pod networking arrives)."""

    name: str
    namespace: str
    uid: str
    attempt: int = 0
    host_network: bool = False
    hostname: str = ""
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    annotations: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    ports: tuple[PortMapping, ...] = ()


class SandboxState(enum.Enum):
    READY = "ready"
    NOT_READY = "notready"


@attrs.frozen
class SandboxStatus:
    id: str
    state: SandboxState
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    annotations: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    created_at: float | None = None
    ip: str = ""  # the pod's IP; "" when it has none but loopback
    host_network: bool = False
    # The network namespace's path (``/proc/<pid>/ns/net``, a bind mount …) where the
    # agent can enter it to probe the pod's ports; "" for host network or when the
    # runtime has no real namespace (the simulator answers probes itself).
    netns_path: str = ""


class MountPropagation(enum.Enum):
    """Kubernetes' ``mountPropagation``: what mounts made later under the host path
    (or the container path) the other side sees."""

    NONE = "None"  # private: the container sees only what was there at start
    HOST_TO_CONTAINER = "HostToContainer"  # rslave
    BIDIRECTIONAL = "Bidirectional"  # rshared (privileged containers only)


@attrs.frozen
class Mount:
    """A path of the host bind-mounted into a container at ``container_path``. The agent
    prepares ``host_path`` before the container is created (a volume's directory, a
    ``subPath`` below it, a file of a configMap volume …); a runtime only binds it, with
    ``read_only`` when asked, and never creates or removes what is there."""

    container_path: str
    host_path: str
    read_only: bool = False
    propagation: MountPropagation = MountPropagation.NONE


@attrs.frozen
class ContainerConfig:
    """One container to create in a sandbox. ``command`` replaces the image's
    entrypoint and ``args`` its cmd, as in a Kubernetes container (empty: the
    image's). ``env`` keeps the order given. Limits: ``None`` is unlimited.
    ``attempt`` is the restart count this instance stands for.

    ``stdin`` keeps the container's standard input open for :meth:`Runtime.attach`
    (``stdin_once``: the first attach that closes it closes it for good); ``tty``
    runs it on a terminal. ``target_container_id``: the id of a running container of
    the same sandbox whose process (pid) namespace this one joins, as an ephemeral
    container's ``targetContainerName`` asks (``kubectl debug --target``); "" for a
    namespace of its own. A runtime that cannot share one creates the container in
    its own namespace and logs a warning saying so; it never refuses it for that."""

    name: str
    image: str
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    annotations: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    ports: tuple[PortMapping, ...] = ()
    cpu_limit_millis: int | None = None
    cpu_request_millis: int | None = None
    memory_limit_bytes: int | None = None
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    attempt: int = 0
    target_container_id: str = ""
    mounts: tuple[Mount, ...] = ()


class ContainerState(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    EXITED = "exited"
    UNKNOWN = "unknown"


@attrs.frozen
class ContainerStatus:
    """What the runtime knows of a container. ``reason`` is set once it exited:
    ``Completed`` (exit 0), ``Error`` or ``OOMKilled`` where the runtime can tell;
    ``message`` carries the runtime's words (e.g. why it could not start)."""

    id: str
    name: str
    sandbox_id: str
    image: str
    state: ContainerState
    image_id: str = ""
    labels: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    annotations: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    attempt: int = 0
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""


@attrs.frozen
class LogOptions:
    """``tail``: only the last N lines (None: all); ``since``: only lines at or after
    this time; ``follow``: keep streaming until the container exits (or the caller
    stops iterating); ``timestamps`` is for the caller's rendering, every chunk carries
    its time anyway."""

    tail: int | None = None
    since: float | None = None
    follow: bool = False
    timestamps: bool = False


STDOUT, STDERR = "stdout", "stderr"


@attrs.frozen
class LogLine:
    """One line of a container's output, ``data`` with its trailing newline when it
    had one."""

    time: float
    stream: str  # STDOUT or STDERR
    data: bytes


@attrs.frozen
class ExecResult:
    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
