"""Where the field manager meets the request path: the apply body, the request's manager,
and managedFields on every write the storage makes.

The storage lifts ``managedFields`` off an object before admission (the model keeps the
field but does not act on it, and admission has no business with it) and settles them
after, from the object admission returned: so what a write owns includes the defaults
and mutations admission added, as in Kubernetes, where defaulting precedes the field
manager.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from aiohttp import web

from navarch.apiserver import errors
from navarch.apiserver.apply.managers import (
    UPDATE,
    Manager,
    check_options,
    manager_name,
    record_update,
)

CONTENT_TYPE = "application/apply-patch+yaml"


def is_apply(request: web.Request) -> bool:
    return request.method == "PATCH" and request.content_type == CONTENT_TYPE


def request_manager(request: web.Request) -> str:
    """Validate ``fieldManager`` (and ``force`` on a PATCH) and name the request's
    manager: the parameter, or the User-Agent's product (``kubectl``)."""
    field_manager = request.query.get("fieldManager")
    force = request.query.get("force") if request.method == "PATCH" else None
    check_options(field_manager, force, apply=is_apply(request))
    return manager_name(field_manager, request.headers.get("User-Agent"))


def forced(request: web.Request) -> bool:
    return request.query.get("force") in ("true", "1", "True")


async def read_config(request: web.Request) -> dict[str, Any]:
    """The apply configuration: YAML (JSON is YAML too, but read as JSON first, faster)."""
    raw = await request.read()
    if not raw.strip():
        raise errors.bad_request("the apply configuration is empty; send the object as YAML")
    try:
        config = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            config = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"the apply configuration is not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise errors.bad_request("the apply configuration must be an object")
    for field in ("apiVersion", "kind"):
        if not config.get(field):
            raise errors.bad_request(f"{field} must be set in an apply configuration")
    return config


def untracked(has_status: bool, subresource: str) -> tuple[str, ...]:
    """Top-level fields a write cannot change, so cannot own: ``status`` through the main
    resource of a kind with a status subresource; all but ``status`` through that
    subresource (Kubernetes' reset fields)."""
    if subresource == "status":
        return ("metadata", "spec")
    if has_status and not subresource:
        return ("status",)
    return ()


def lift(obj: dict[str, Any]) -> Any:
    """Take ``managedFields`` off ``obj`` (before admission); None when it had none."""
    metadata = obj.get("metadata")
    return metadata.pop("managedFields", None) if isinstance(metadata, dict) else None


def settle(
    old: dict[str, Any] | None,
    admitted: dict[str, Any],
    sent: Any,
    *,
    field_manager: str,
    applied: bool,
    api_version: str,
    subresource: str,
    has_status: bool,
    now: str,
) -> None:
    """Give ``admitted`` its managedFields (in place).

    ``sent`` are those lifted off the object before admission. An apply computed them
    already; a write with no manager (the server's own loops) keeps them as they were;
    any other write is an Update by its manager.
    """
    if applied or not field_manager:
        if sent is None and old is not None:
            sent = (old.get("metadata") or {}).get("managedFields")
        if sent:
            admitted["metadata"]["managedFields"] = sent
        return
    manager = Manager(field_manager, UPDATE, api_version, subresource)
    ignored = untracked(has_status, subresource)
    record_update(old, admitted, manager, now, untracked=ignored, sent=sent)
