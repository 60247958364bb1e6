"""Kubernetes' defaults for a CustomResourceDefinition (apiextensions v1
``SetDefaults_*``), applied to the wire dict before decoding, as
:mod:`navarch.api.defaults` does for the core kinds.

Worked example: ``names: {plural: crontabs, kind: CronTab}`` with no ``conversion`` and
one storage version ``v1`` becomes ``names: {plural: crontabs, kind: CronTab, singular:
crontab, listKind: CronTabList}``, ``conversion: {strategy: None}`` and
``status.storedVersions: [v1]``. A webhook service without a port gets 443.
"""

from __future__ import annotations

from typing import Any

from navarch.apiextensions.v1 import NONE_CONVERTER

DEFAULT_WEBHOOK_PORT = 443


def apply_crd_defaults(obj: dict[str, Any]) -> dict[str, Any]:
    """Default ``obj`` (a CustomResourceDefinition's wire dict, owned by the caller) in
    place and return it. Values of the wrong type are left for decoding to report."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return obj
    names = spec.get("names")
    if isinstance(names, dict):
        kind = names.get("kind")
        if isinstance(kind, str) and kind:
            if not names.get("singular"):
                names["singular"] = kind.lower()
            if not names.get("listKind"):
                names["listKind"] = f"{kind}List"
    conversion = spec.get("conversion")
    if conversion is None:
        spec["conversion"] = {"strategy": NONE_CONVERTER}
    elif isinstance(conversion, dict):
        _default_webhook_port(conversion)
    _default_stored_versions(obj, spec.get("versions"))
    return obj


def _default_webhook_port(conversion: dict[str, Any]) -> None:
    webhook = conversion.get("webhook")
    config = webhook.get("clientConfig") if isinstance(webhook, dict) else None
    service = config.get("service") if isinstance(config, dict) else None
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = DEFAULT_WEBHOOK_PORT


def _default_stored_versions(obj: dict[str, Any], versions: Any) -> None:
    """``status.storedVersions`` starts as the storage version: objects are about to be
    written in it."""
    if not isinstance(versions, list):
        return
    storage = next(
        (v.get("name") for v in versions if isinstance(v, dict) and v.get("storage") is True),
        None,
    )
    if not isinstance(storage, str) or not storage:
        return
    status = obj.setdefault("status", {})
    if isinstance(status, dict) and not status.get("storedVersions"):
        status["storedVersions"] = [storage]
