"""Logging set-up, done once by each entry point (libraries only call ``logger``).

``text`` gives readable lines on a terminal; ``json`` gives one JSON object a line
with the bound key/values as top-level fields, for log collectors.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import orjson
from loguru import logger

TEXT_PREFIX = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{name}</cyan> {message}"
)


def configure_logging(level: str = "INFO", fmt: str = "text", sink: TextIO | None = None) -> None:
    """Replace loguru's handlers with one of Navarch's, and enable the library's logs."""
    sink = sink or sys.stderr
    logger.remove()
    for package in _navarch_packages():
        logger.enable(package)
    if fmt == "json":
        logger.add(_json_sink(sink), level=level, format="{message}", diagnose=False)
    else:
        logger.add(sink, level=level, format=_text_format, colorize=sink.isatty(), diagnose=False)


def _navarch_packages() -> set[str]:
    """The core and every installed plugin package: each disables its logs on import
    (``logger.disable(__name__)``) so that, as a library, it stays silent."""
    from importlib import metadata

    packages = {"navarch"}
    for entry_point in metadata.entry_points(group="navarch"):
        packages.add(entry_point.module.split(".")[0])
    return packages


def _text_format(record: dict[str, Any]) -> str:
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
            line["exception"] = "".join(_format_exception(record["exception"]))
        stream.write(orjson.dumps(line, default=str).decode() + "\n")
        stream.flush()

    return write


def _format_exception(exception: Any) -> list[str]:
    import traceback

    return traceback.format_exception(exception.type, exception.value, exception.traceback)
