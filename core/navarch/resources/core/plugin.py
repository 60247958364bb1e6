"""The default plugin that registers the core's own kinds (listed in
:data:`navarch.plugins.DEFAULT_PLUGINS`, registered like any third-party plugin)."""

from __future__ import annotations

from navarch import hookimpl
from navarch.registry import RegisterResource
from navarch.resources.core import CORE_RESOURCES


@hookimpl
def navarch_register_resources(register: RegisterResource) -> None:
    for resource in CORE_RESOURCES:
        register(resource)
