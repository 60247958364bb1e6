"""Validation of the files a pod's volumes and environment refer to: ConfigMap and
Secret keys, relative paths inside a volume, file modes.
"""

from __future__ import annotations

import re

from navarch.api import errors
from navarch.api.field_checks import Errors

MAX_FILE_MODE = 0o777
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")


def validate_file_mode(mode: int | None, path: str) -> Errors:
    if mode is not None and not 0 <= mode <= MAX_FILE_MODE:
        return [
            errors.invalid(
                path, mode, "must be a number between 0 and 0777 (octal), both inclusive"
            )
        ]
    return []


def validate_relative_path(value: str | None, path: str) -> Errors:
    """Kubernetes' local descending path: relative, no '..' element."""
    if not value:
        return [errors.required(path)]
    if value.startswith("/"):
        return [errors.invalid(path, value, "must be a relative path")]
    if ".." in value.split("/"):
        return [errors.invalid(path, value, "must not contain '..'")]
    return []


def validate_local_non_reserved_path(value: str | None, path: str) -> Errors:
    """Kubernetes' local non-reserved path, for the files a configMap, secret,
    downwardAPI or projected volume writes: a relative path not starting with '..'
    (the atomic writer's own names, ``..data`` and its timestamped directories, which the
    agent would refuse to write after the pod was accepted)."""
    errs = validate_relative_path(value, path)
    if value and value.startswith("..") and not value.startswith("../"):
        errs.append(errors.invalid(path, value, "must not start with '..'"))
    return errs


def validate_config_key(value: str | None, path: str) -> Errors:
    if not value:
        return [errors.required(path)]
    if (
        len(value) > 253
        or not _CONFIG_KEY.fullmatch(value)
        or value in (".", "..")
        or value.startswith("..")
    ):
        return [
            errors.invalid(
                path,
                value,
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' "
                "(e.g. 'key.name', or 'KEY_NAME', or 'key-name'), not '.' or '..'",
            )
        ]
    return []
