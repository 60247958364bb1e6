"""kubectl's ConfigMap and Secret describers. A Secret's values are never shown: each
key with its size in bytes (kubectl shows a service-account token's value; navctl
does not, so a description can be pasted anywhere)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from navarch.cli.navctl.describers import Lines, annotation_lines, events, labels, meta
from navarch.cli.navctl.session import Session


async def describe_configmap(session: Session, configmap: dict[str, Any]) -> Lines:
    metadata = meta(configmap)
    out = [f"Name:\t{metadata.get('name')}", f"Namespace:\t{metadata.get('namespace')}"]
    out += labels("Labels", metadata.get("labels"))
    out += annotation_lines(metadata.get("annotations"))
    out += ["", "Data", "===="]
    for key, value in sorted((configmap.get("data") or {}).items()):
        out += [f"{key}:", "----", *f"{value}".split("\n"), ""]
    out += ["", "BinaryData", "===="]
    for key, value in sorted((configmap.get("binaryData") or {}).items()):
        out.append(f"{key}: {_size(value)} bytes")
    out.append("")
    return out + await events(session, configmap)


async def describe_secret(session: Session, secret: dict[str, Any]) -> Lines:
    metadata = meta(secret)
    out = [f"Name:\t{metadata.get('name')}", f"Namespace:\t{metadata.get('namespace')}"]
    out += labels("Labels", metadata.get("labels"))
    out += annotation_lines(metadata.get("annotations"))
    out += ["", f"Type:\t{secret.get('type') or ''}", "", "Data", "===="]
    for key, value in sorted((secret.get("data") or {}).items()):
        out.append(f"{key}:\t{_size(value)} bytes")
    return out


def _size(encoded: Any) -> int:
    """The length of the bytes a base64 value holds (what kubectl counts)."""
    try:
        return len(base64.b64decode(str(encoded), validate=True))
    except (binascii.Error, ValueError):
        return len(str(encoded))
