"""Configuration: one YAML file, then environment variables, then command-line flags.

Every setting is declared once in :data:`navarch.settings.SETTINGS` with its type,
default, allowed values and help; the file, the environment and ``--set key=value`` flags are all
checked against that table, so an error always names the key, the bad value, where
it came from and what is allowed. Precedence, lowest first: defaults, file,
environment (``NAVARCH_<KEY>`` with dots as underscores, e.g. ``NAVARCH_API_PORT``),
flags.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from navarch.settings import ENV_PREFIX, LOG_LEVELS, SETTINGS, Setting

ENV_CONFIG_FILE = "NAVARCH_CONFIG"
DEFAULT_CONFIG_FILE = Path("/etc/navarch/navarch.yaml")

__all__ = ["ENV_PREFIX", "LOG_LEVELS", "SETTINGS", "Config", "ConfigError", "Setting"]


class ConfigError(ValueError):
    """A configuration problem, phrased so the user can fix it."""


BY_KEY = {s.key: s for s in SETTINGS}
_SPECIAL_ENV = {ENV_CONFIG_FILE}


@attrs.frozen
class Config:
    """The effective configuration: a value and its source for every setting."""

    values: Mapping[str, Any]
    sources: Mapping[str, str]
    file: Path | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def section(self, prefix: str) -> dict[str, Any]:
        """``section("store")`` -> ``{"name": ..., "options": ...}``."""
        start = prefix + "."
        return {k[len(start) :]: v for k, v in self.values.items() if k.startswith(start)}

    def nested(self) -> dict[str, Any]:
        """The values as a nested mapping, the shape of the YAML file."""
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            *parents, leaf = key.split(".")
            node = out
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = value
        return out


def load_config(
    file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Iterable[str] = (),
    flags: Mapping[str, Any] | None = None,
) -> Config:
    """Build and validate the effective configuration.

    ``file`` defaults to ``$NAVARCH_CONFIG``, then ``/etc/navarch/navarch.yaml`` if it
    exists. ``overrides`` are ``key=value`` strings (``--set``); ``flags`` are values
    from dedicated command-line flags (``--log-format json``), already keyed.
    """
    env = os.environ if env is None else env
    values = {s.key: s.default for s in SETTINGS}
    sources = {s.key: "default" for s in SETTINGS}

    path = _config_path(file, env)
    if path is not None:
        for key, raw in _read_file(path).items():
            where = f"config file {path}"
            values[key] = _check(_setting(key, where), raw, where, from_text=False)
            sources[key] = where

    for setting in SETTINGS:
        if setting.env_name in env:
            where = f"environment variable {setting.env_name}"
            values[setting.key] = _check(setting, env[setting.env_name], where, from_text=True)
            sources[setting.key] = where

    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set api.port=7443")
        where = f"flag --set {key}"
        values[key] = _check(_setting(key, where), raw, where, from_text=True)
        sources[key] = where

    for key, raw in (flags or {}).items():
        if raw is None:
            continue
        where = f"flag --{key.replace('.', '-').replace('_', '-')}"
        values[key] = _check(_setting(key, where), raw, where, from_text=isinstance(raw, str))
        sources[key] = where

    return Config(values, sources, path)


def unknown_env(env: Mapping[str, str]) -> list[str]:
    """``NAVARCH_*`` variables that match no setting (likely typos; callers warn)."""
    known = {s.env_name for s in SETTINGS} | _SPECIAL_ENV
    return sorted(k for k in env if k.startswith(ENV_PREFIX) and k not in known)


def _config_path(file: Any, env: Mapping[str, str]) -> Path | None:
    if file is not None:
        return Path(file)
    if env.get(ENV_CONFIG_FILE):
        return Path(env[ENV_CONFIG_FILE])
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of settings")
    return _flatten(data, "", path)


def _flatten(data: dict[str, Any], prefix: str, path: Path) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}{name}"
        if key in BY_KEY:
            flat[key] = value
        elif isinstance(value, dict) and any(k.startswith(key + ".") for k in BY_KEY):
            flat.update(_flatten(value, key + ".", path))
        else:
            _setting(key, f"config file {path}")  # raises with the list of known keys
    return flat


def _setting(key: str, where: str) -> Setting:
    setting = BY_KEY.get(key)
    if setting is None:
        known = ", ".join(BY_KEY)
        raise ConfigError(f"{where}: unknown setting {key!r}; known settings: {known}")
    return setting


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _check(setting: Setting, raw: Any, where: str, *, from_text: bool) -> Any:
    """Convert ``raw`` to the setting's type, or raise naming key, value, source, rule."""

    def bad() -> ConfigError:
        return ConfigError(
            f"{setting.key} = {raw!r} (from {where}) is not allowed: must be {setting.allowed()}"
        )

    kind = setting.kind
    if kind in ("optional_path", "optional_str"):
        if not isinstance(raw, str):
            raise bad()
        return raw.strip()
    if kind in ("str", "path", "choice"):
        if not isinstance(raw, str) or not raw.strip():
            raise bad()
        value = raw.strip()
        if kind == "choice":
            value = value.upper() if setting.key == "log.level" else value
            if value not in setting.choices:
                raise bad()
        return value
    if kind in ("int", "port"):
        if from_text and isinstance(raw, str):
            try:
                raw = int(raw.strip())
            except ValueError:
                raise bad() from None
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise bad()
        if kind == "port" and not 1 <= raw <= 65535:
            raise bad()
        if setting.minimum is not None and raw < setting.minimum:
            raise bad()
        return raw
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise bad()
    if kind == "list":
        if from_text and isinstance(raw, str):
            return [item.strip() for item in raw.split(",") if item.strip()]
        if isinstance(raw, list) and all(isinstance(i, str) for i in raw):
            return list(raw)
        raise bad()
    if kind == "mapping":
        if from_text and isinstance(raw, str):
            try:
                raw = yaml.safe_load(raw) if raw.strip() else {}
            except yaml.YAMLError:
                raise bad() from None
        if isinstance(raw, dict):
            return raw
        raise bad()
    raise AssertionError(f"setting {setting.key} has unknown kind {kind}")


def reference_table() -> str:
    """Every setting as a Markdown table (docs/configuration.md embeds it)."""
    rows = ["| key | environment | default | allowed | meaning |", "|---|---|---|---|---|"]
    rows += [
        f"| `{s.key}` | `{s.env_name}` | `{s.default!r}` | {s.allowed()} | {s.help} |"
        for s in SETTINGS
    ]
    return "\n".join(rows)
