"""Navarch's CRI runtime: any runtime that speaks the Kubernetes Container Runtime
Interface (CRI v1, gRPC) — containerd with its CRI plugin, CRI-O, and every other
runtime Kubernetes supports — as a Navarch runtime, at ``runtime.options.endpoint``.

Registers the runtime ``cri`` (:class:`CriRuntime`, options :class:`CriOptions`).

gRPC and the generated messages are imported only when a runtime is opened: every
Navarch process loads every installed plugin to read its options, and most have no
use for them.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from navarch import hookimpl
from navarch.logs import quiet_until_configured
from navarch_runtime_cri.defaults import CRIO_ENDPOINT, DEFAULT_ENDPOINT
from navarch_runtime_cri.options import CriOptions

if TYPE_CHECKING:
    from navarch_runtime_cri.runtime import CriRuntime

# name -> the module that defines it, imported on first use
_LAZY = {
    "CriRuntime": "runtime",
    "CriConnection": "connection",
    "CriError": "errors",
    "CriExec": "streaming",
    "LogParser": "logs",
    "read_log": "logs",
}

__all__ = ["CRIO_ENDPOINT", "DEFAULT_ENDPOINT", "CriOptions", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def open_runtime(options: CriOptions, data_dir: str) -> CriRuntime:
    from navarch_runtime_cri.runtime import CriRuntime

    # data_dir holds the containers' logs: the runtime writes them where we say
    return CriRuntime(options, Path(data_dir) / "cri")


@hookimpl
def navarch_register_runtimes(register) -> None:
    register("cri", open_runtime, options=CriOptions)


quiet_until_configured(__name__)
