"""Logging set-up, done once by each entry point (libraries only call ``logger``).

``text`` gives readable lines on a terminal; ``json`` gives one JSON object a line
with the bound key/values as top-level fields, for log collectors. Either way every
record is redacted first (:func:`navarch.redaction.redact_log_record`): secrets a
message or a bound value carries are masked.

Libraries stay silent until an entry point calls :func:`configure_logging`: the core
disables ``navarch`` on import, and each plugin package calls
:func:`quiet_until_configured` from its ``__init__``. A plugin is often imported
*after* configuration (the plugin manager loads entry points then), so the decision
is made here, where it is known whether logging is configured: a plugin imported
later keeps its logs on. (A plain ``logger.disable(__name__)`` in the plugin would
silence it for good, as it once silenced map growth and etcd reconnect warnings.)
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TextIO

import orjson
from loguru import logger

from navarch.redaction import redact_log_record, redact_text

if TYPE_CHECKING:
    from loguru import Record

TEXT_PREFIX = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{name}</cyan> {message}"
)


_configured = False  # set by configure_logging: from then on, plugins log once imported
_quieted: set[str] = set()  # packages silenced by quiet_until_configured


def quiet_until_configured(package: str) -> None:
    """Silence ``package``'s logs unless an entry point has configured logging already.

    Call it from a plugin package's ``__init__`` with ``__name__``, instead of
    ``logger.disable(__name__)``: used as a library the plugin is quiet; imported by a
    configured entry point (before or after :func:`configure_logging`) it logs.
    """
    if _configured:
        return
    _quieted.add(package)
    logger.disable(package)


def configure_logging(level: str = "INFO", fmt: str = "text", sink: TextIO | None = None) -> None:
    """Replace loguru's handlers with one of Navarch's, and enable the library's logs:
    the core, every installed plugin and any package quieted before now."""
    global _configured
    sink = sink or sys.stderr
    logger.remove()
    # Every record, on every sink: no token, password or private key reaches a log.
    logger.configure(patcher=redact_log_record)
    _configured = True
    for package in _navarch_packages() | _quieted:
        logger.enable(package)
    if fmt == "json":
        logger.add(_json_sink(sink), level=level, format="{message}", diagnose=False)
    else:
        logger.add(sink, level=level, format=_text_format, colorize=sink.isatty(), diagnose=False)


def _navarch_packages() -> set[str]:
    """The core and every installed plugin package (by their entry points), whether
    imported yet or not."""
    from importlib import metadata

    packages = {"navarch"}
    for entry_point in metadata.entry_points(group="navarch"):
        packages.add(entry_point.module.split(".")[0])
    return packages


def _text_format(record: Record) -> str:
    """The line template for one record: the message, then its bound ``key=value``s."""
    pairs = "".join(f" {k}={v}" for k, v in record["extra"].items())
    escaped = pairs.replace("{", "{{").replace("}", "}}").replace("<", r"\<")
    return TEXT_PREFIX + escaped + "\n{exception}"


def _json_sink(stream: TextIO):
    def write(message: Any) -> None:
        record = message.record
        line = {
            "time": record["time"].isoformat(),
            "level": record["level"].name,
            "logger": record["name"],
            "message": record["message"],
            **record["extra"],
        }
        if record["exception"] is not None:
            line["exception"] = redact_text("".join(_format_exception(record["exception"])))
        stream.write(orjson.dumps(line, default=str).decode() + "\n")
        stream.flush()

    return write


def _format_exception(exception: Any) -> list[str]:
    import traceback

    return traceback.format_exception(exception.type, exception.value, exception.traceback)


def add_file_log(path: str, level: str = "INFO", fmt: str = "text") -> None:
    """Also write every record at ``level`` or above to the file ``path`` (appended):
    ``navarch up`` keeps its terminal for what a user must see and logs the rest there."""
    if fmt == "json":
        stream = open(path, "a", buffering=1)  # noqa: SIM115 - open as long as the process
        logger.add(_json_sink(stream), level=level, format="{message}", diagnose=False)
    else:
        # rotated by size, the last few kept: a cluster left up for weeks stays bounded
        logger.add(
            path,
            level=level,
            format=_text_format,
            colorize=False,
            diagnose=False,
            rotation="50 MB",
            retention=3,
        )
