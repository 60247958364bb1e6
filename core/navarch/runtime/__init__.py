"""The container runtime contract (CRI's model, smaller).

Runtimes are plugins (``navarch_register_runtimes``); ``navarch.testing.runtime`` is
the conformance suite every runtime passes, ours and third parties'.
"""

from navarch.runtime import labels
from navarch.runtime.contract import AttachSession, ExecSession, Runtime
from navarch.runtime.errors import (
    CreateError,
    ImageLoadError,
    ImagePullError,
    InvalidConfig,
    NotFound,
    RuntimeFault,
    StartError,
    Unavailable,
)
from navarch.runtime.types import (
    STDERR,
    STDOUT,
    ContainerConfig,
    ContainerState,
    ContainerStatus,
    ExecResult,
    ImageRef,
    LogLine,
    LogOptions,
    Mount,
    MountPropagation,
    PortMapping,
    RegistryAuth,
    RuntimeVersion,
    SandboxConfig,
    SandboxState,
    SandboxStatus,
)

__all__ = [
    "STDERR",
    "STDOUT",
    "AttachSession",
    "ContainerConfig",
    "ContainerState",
    "ContainerStatus",
    "CreateError",
    "ExecResult",
    "ExecSession",
    "ImageLoadError",
    "ImagePullError",
    "ImageRef",
    "InvalidConfig",
    "LogLine",
    "LogOptions",
    "Mount",
    "MountPropagation",
    "NotFound",
    "PortMapping",
    "RegistryAuth",
    "Runtime",
    "RuntimeFault",
    "RuntimeVersion",
    "SandboxConfig",
    "SandboxState",
    "SandboxStatus",
    "StartError",
    "Unavailable",
    "labels",
]
