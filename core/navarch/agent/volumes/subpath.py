"""``subPath`` and ``subPathExpr``: a path inside a volume, made when missing, that must
stay inside it. The kubelet's checks (pkg/kubelet/kubelet_pods.go makeMounts and
pkg/volume/util/subpath), with its messages: no absolute path, no ``..`` element, and
no symlink on the way leading out of the volume (a container could otherwise plant
``link -> /etc`` in its volume and have the next container mount the host's /etc)."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from pathlib import Path


class SubPathError(ValueError):
    """The subPath may not be used; the container is not created
    (CreateContainerConfigError)."""


_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_sub_path_expr(expression: str, env: Mapping[str, str]) -> str:
    """``subPathExpr``'s ``$(VAR)`` references from the container's environment; a
    variable that is unset or empty is an error (Kubernetes' ExpandContainerVolumeMounts)."""
    missing: set[str] = set()

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "$"
        found = env.get(name, "")
        if not found:
            missing.add(name)
        return found

    expanded = _REFERENCE.sub(value, expression)
    if missing:
        raise SubPathError(f"missing value for {', '.join(sorted(missing))}")
    return expanded


def prepare_sub_path(volume: Path, sub_path: str) -> Path:
    """The host path of ``sub_path`` inside ``volume``, made (as directories with the
    volume's own mode) when missing; resolved, so that what the runtime binds is what
    was checked."""
    if posixpath.isabs(sub_path):
        raise SubPathError(f"error SubPath `{sub_path}` must not be an absolute path")
    if ".." in sub_path.split("/"):
        raise SubPathError(f"unable to provision SubPath `{sub_path}`: must not contain '..'")
    base = Path(os.path.realpath(volume))
    mode = base.stat().st_mode & 0o7777 if base.is_dir() else 0o755
    current = base
    for part in [p for p in sub_path.split("/") if p not in ("", ".")]:
        candidate = current / part
        if candidate.is_symlink() or candidate.exists():
            current = Path(os.path.realpath(candidate))
            _within(current, base, sub_path)
            continue
        try:
            candidate.mkdir(mode=mode)
            candidate.chmod(mode)  # mkdir's mode is cut by the umask
        except FileExistsError:  # made meanwhile: looked at like any existing one
            pass
        except OSError as exc:
            raise SubPathError(
                f"failed to create subPath directory `{sub_path}`: {exc.strerror}"
            ) from exc
        current = Path(os.path.realpath(candidate))
        _within(current, base, sub_path)
    return current


def _within(path: Path, base: Path, sub_path: str) -> None:
    if path != base and base not in path.parents:
        raise SubPathError(f"subpath {str(path)!r} not within volume path {str(base)!r}")
