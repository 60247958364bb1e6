"""Start-up failures a user can act on: each becomes one line saying what failed and
what to do, instead of a traceback.

Configuration errors (:class:`navarch.config.ConfigError`) mean "fix the settings"
and exit with status 2; a :class:`StartupError` means the settings are valid but the
machine is not ready for them (the port is taken, the data directory cannot be
written, another server holds the store, etcd does not answer …) and exits with
status 1.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from navarch.config import ConfigError
from navarch.store import InvalidArgument, StoreError, Unavailable


class StartupError(Exception):
    """A daemon cannot start; the message says what failed and what to do."""


def data_dir_error(data_dir: Path, exc: OSError) -> StartupError:
    """``exc`` was raised while creating or writing files under ``data_dir``."""
    where = exc.filename or data_dir
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return StartupError(
            f"data_dir {data_dir}: {where} is not a directory; remove it or set data_dir "
            "(--data-dir) to a directory"
        )
    if isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        return StartupError(
            f"data_dir {data_dir}: cannot write {where} ({exc.strerror}); give this user "
            "write access to it, or set data_dir (--data-dir) to a writable directory"
        )
    return StartupError(f"data_dir {data_dir}: cannot use {where} ({exc.strerror or exc})")


def bind_error(address: str, port: int, exc: OSError) -> StartupError:
    """``exc`` was raised while opening the listening socket."""
    if isinstance(exc, socket.gaierror):
        return unresolvable_address(address, exc)
    if exc.errno == errno.EADDRINUSE:
        return StartupError(
            f"cannot listen on {address} port {port}: the port is in use by another process; "
            "stop it, or set api.port to a free port"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return StartupError(
            f"cannot listen on {address} port {port}: no interface of this machine has that "
            "address; set api.address to one of its addresses (or 0.0.0.0)"
        )
    if exc.errno == errno.EACCES:
        return StartupError(
            f"cannot listen on {address} port {port}: permission denied (ports below 1024 "
            "need privileges); set api.port to 1024 or above"
        )
    return StartupError(f"cannot listen on {address} port {port}: {exc.strerror or exc}")


def unresolvable_address(address: str, exc: Exception) -> StartupError:
    reason = exc.strerror if isinstance(exc, OSError) else str(exc)
    return StartupError(
        f"api.address = {address!r} cannot be resolved ({reason}); set api.address to an IP "
        "address or a name this machine resolves"
    )


def store_error(name: str, exc: StoreError) -> StartupError | ConfigError:
    """``exc`` was raised while opening the store or making the first writes.
    Options the store refuses are a configuration error (exit status 2)."""
    if isinstance(exc, InvalidArgument):
        return ConfigError(f"store {name!r} refuses store.options: {exc}; fix store.options")
    if isinstance(exc, Unavailable):
        return StartupError(
            f"store {name!r} is unavailable: {exc}; check that it runs and is reachable "
            "with store.options"
        )
    # Locked and Corrupt say what to do themselves.
    return StartupError(f"store {name!r} cannot be opened: {exc}")
