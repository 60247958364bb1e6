"""Reading the kubeconfig file kubectl uses, so one file serves kubectl and Navarch."""

from __future__ import annotations

import base64
import os
import ssl
from pathlib import Path
from typing import Any

import attrs
import yaml


class KubeConfigError(ValueError):
    """The kubeconfig is missing or lacks what is needed; the message says which."""


@attrs.frozen
class KubeConfig:
    server: str
    token: str | None = None
    ca_data: bytes | None = None
    namespace: str = "default"
    insecure: bool = False

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.server.startswith("https://"):
            return None
        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_data:
            # The cluster's CA alone, as client-go trusts it (not the system's CAs too:
            # loading those costs ~20 ms, a sixth of a navctl run, and trusts more).
            context = ssl.create_default_context(cadata=self.ca_data.decode())
        else:
            context = ssl.create_default_context()
        return context


def load_kubeconfig(
    path: str | os.PathLike[str] | None = None, context: str | None = None
) -> KubeConfig:
    """Load ``path``, else ``$KUBECONFIG`` (first file), else ``~/.kube/config``."""
    if path is None:
        env = os.environ.get("KUBECONFIG", "")
        path = env.split(os.pathsep)[0] if env else Path.home() / ".kube" / "config"
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise KubeConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
    if not isinstance(data, dict):
        raise KubeConfigError(f"kubeconfig {path} is not a mapping")
    name = context or data.get("current-context")
    ctx = _named(data, "contexts", name, path).get("context", {})
    cluster = _named(data, "clusters", ctx.get("cluster"), path).get("cluster", {})
    user = _named(data, "users", ctx.get("user"), path).get("user", {}) if ctx.get("user") else {}
    if not cluster.get("server"):
        raise KubeConfigError(f"kubeconfig {path}: cluster {ctx.get('cluster')!r} has no server")
    ca = None
    if cluster.get("certificate-authority-data"):
        ca = base64.b64decode(cluster["certificate-authority-data"])
    elif cluster.get("certificate-authority"):
        ca = _read(path.parent / cluster["certificate-authority"], path).encode()
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = _read(Path(user["tokenFile"]), path).strip()
    return KubeConfig(
        server=cluster["server"].rstrip("/"),
        token=token,
        ca_data=ca,
        namespace=ctx.get("namespace") or "default",
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )


def _read(file: Path, kubeconfig: Path) -> str:
    try:
        return file.read_text()
    except OSError as exc:
        raise KubeConfigError(
            f"kubeconfig {kubeconfig}: cannot read {file}: {exc.strerror}"
        ) from None


def _named(data: dict[str, Any], section: str, name: Any, path: Path) -> dict[str, Any]:
    for entry in data.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry
    known = ", ".join(str(e.get("name")) for e in data.get(section) or [] if isinstance(e, dict))
    raise KubeConfigError(
        f"kubeconfig {path}: no {section[:-1]} named {name!r} (known: {known or 'none'})"
    )
