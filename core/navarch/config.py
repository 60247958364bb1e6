"""Configuration: one YAML file, then environment variables, then command-line flags.

Every setting is declared once in :data:`SETTINGS` with its type, default, allowed
values and help; the file, the environment and ``--set key=value`` flags are all
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

ENV_PREFIX = "NAVARCH_"
ENV_CONFIG_FILE = "NAVARCH_CONFIG"
DEFAULT_CONFIG_FILE = Path("/etc/navarch/navarch.yaml")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A configuration problem, phrased so the user can fix it."""


@attrs.frozen
class Setting:
    key: str
    # str | optional_str | int | port | bool | choice | list | mapping | path | optional_path
    kind: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    env: str | None = None
    minimum: int | None = None  # for kind int

    @property
    def env_name(self) -> str:
        return self.env or ENV_PREFIX + self.key.replace(".", "_").upper()

    def allowed(self) -> str:
        return {
            "str": "a non-empty string",
            "optional_str": "a string, or empty",
            "int": f"an integer of at least {self.minimum}" if self.minimum else "an integer",
            "port": "an integer from 1 to 65535",
            "bool": "true or false",
            "choice": "one of " + ", ".join(self.choices),
            "list": "a list (comma-separated in the environment and flags)",
            "mapping": "a mapping (YAML flow form in the environment and flags, e.g. {a: 1})",
            "path": "a filesystem path",
            "optional_path": "a filesystem path, or empty",
        }[self.kind]


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "path", "/var/lib/navarch", "Where the store and agents keep state."),
    Setting("log.level", "choice", "INFO", "Lowest level logged.", LOG_LEVELS),
    Setting(
        "log.format",
        "choice",
        "text",
        "text: readable lines; json: one JSON object a line.",
        ("text", "json"),
    ),
    Setting("api.address", "str", "127.0.0.1", "Address the API server listens on."),
    Setting("api.port", "port", 6443, "Port the API server listens on."),
    Setting(
        "api.tls",
        "bool",
        True,
        "Serve HTTPS with the cluster's own CA (plain HTTP only on loopback).",
    ),
    Setting(
        "api.advertise_address",
        "optional_str",
        "",
        "Address kubeconfigs point at; empty: api.address, or when that is 0.0.0.0 or :: "
        "the address of the interface with the default route (as kube-apiserver does).",
    ),
    Setting(
        "api.cert_sans",
        "list",
        [],
        "Extra DNS names and IP addresses in the serving certificate.",
    ),
    Setting(
        "api.max_inflight", "int", 400, "Requests served at once before answering 429.", minimum=1
    ),
    Setting(
        "admission.default_not_ready_toleration_seconds",
        "int",
        10,
        "Seconds a pod created without its own toleration of the node.kubernetes.io/"
        "not-ready NoExecute taint tolerates it (DefaultTolerationSeconds; Kubernetes: 300).",
        minimum=0,
    ),
    Setting(
        "admission.default_unreachable_toleration_seconds",
        "int",
        10,
        "Seconds a pod created without its own toleration of the node.kubernetes.io/"
        "unreachable NoExecute taint tolerates it (DefaultTolerationSeconds; Kubernetes: 300).",
        minimum=0,
    ),
    Setting("store.name", "str", "lmdb", "Store backend, by registered name."),
    Setting("store.options", "mapping", {}, "Options handed to the store backend."),
    Setting(
        "runtime.name",
        "optional_str",
        "containerd",
        "Container runtime of the node agent, by registered name (containerd, docker, "
        "sim, or a third party's); empty: none, and the agent refuses to start.",
    ),
    Setting("runtime.options", "mapping", {}, "Options handed to the container runtime."),
    Setting("scheduler.profile", "str", "spread", "Scheduler profile, by registered name."),
    Setting(
        "scheduler.weights",
        "mapping",
        {},
        "Score weights overriding the profile's, by plugin; 0 turns off a score or a core "
        "filter (node-name, cordon, node-affinity, taints, resources).",
    ),
    Setting(
        "kubeconfig",
        "optional_path",
        "",
        "Kubeconfig of daemons that are API clients "
        "(scheduler, controllers, agent); empty: <data_dir>/admin.kubeconfig.",
    ),
    Setting(
        "agent.node_name",
        "optional_str",
        "",
        "The Node this agent runs; empty: the machine's hostname (lower-cased).",
    ),
    Setting(
        "agent.node_ip",
        "optional_str",
        "",
        "Address the Node reports (InternalIP), where the API server reaches the agent's "
        "port; empty: the address of the interface with the default route, else 127.0.0.1.",
    ),
    Setting(
        "agent.address",
        "str",
        "0.0.0.0",
        "Address the agent's port (logs, exec: HTTPS, API server tokens) listens on.",
    ),
    Setting("agent.port", "int", 10250, "The agent's port; 0 picks a free one.", minimum=0),
    Setting(
        "agent.capacity",
        "mapping",
        {},
        "Node capacity overriding what is detected (cpu, memory, pods), e.g. "
        "{cpu: '4', memory: 8Gi, pods: '110'}: for several agents on one machine.",
    ),
    Setting("agent.labels", "mapping", {}, "Labels the Node registers with."),
    Setting(
        "agent.taints",
        "list",
        [],
        "Taints the Node registers with, as key=value:Effect (Effect NoSchedule, "
        "PreferNoSchedule or NoExecute).",
    ),
    Setting(
        "agent.lease_renew_seconds",
        "int",
        5,
        "How often the agent renews its Lease in kube-node-lease.",
        minimum=1,
    ),
    Setting(
        "agent.lease_duration_seconds",
        "int",
        40,
        "The Lease's leaseDurationSeconds: how long the node counts as alive unrenewed.",
        minimum=1,
    ),
    Setting(
        "agent.status_update_seconds",
        "int",
        60,
        "How often the Node's status (conditions' heartbeat) is written when nothing "
        "changed; a change is written at once.",
        minimum=1,
    ),
    Setting(
        "agent.relist_seconds",
        "int",
        1,
        "How often the agent lists its runtime's containers to notice exits.",
        minimum=1,
    ),
    Setting(
        "agent.backoff_initial_seconds",
        "int",
        10,
        "First restart back-off of a crashing container (doubles each time).",
        minimum=1,
    ),
    Setting(
        "agent.backoff_max_seconds",
        "int",
        300,
        "Longest restart back-off (CrashLoopBackOff, ImagePullBackOff).",
        minimum=1,
    ),
    Setting(
        "agent.simulate",
        "int",
        0,
        "Run this many agents in one process (nodes <simulate_prefix>-0 …), for tests "
        "and benchmarks with runtime sim; 0: one agent for this machine.",
        minimum=0,
    ),
    Setting("agent.simulate_prefix", "str", "sim-node", "Name prefix of simulated nodes."),
    Setting(
        "controllers.enabled",
        "list",
        ["*"],
        "Controllers to run; '*' runs all, '-name' leaves one out ('*,-node-lifecycle').",
    ),
    Setting(
        "controllers.options",
        "mapping",
        {},
        "Options of the controllers, by controller name, e.g. "
        "{node-lifecycle: {node_monitor_grace_seconds: 20}}.",
    ),
    Setting(
        "leader_election.enabled",
        "bool",
        True,
        "Whether the scheduler and the controller manager elect a leader through a Lease "
        "in kube-system, so that of several copies exactly one acts.",
    ),
    Setting(
        "leader_election.lease_duration_seconds",
        "int",
        15,
        "How long a candidate waits after the leader's last renewal it saw before taking over.",
        minimum=2,
    ),
    Setting(
        "leader_election.renew_deadline_seconds",
        "int",
        10,
        "A leader that could not renew for this long stops acting (less than the lease duration).",
        minimum=1,
    ),
    Setting(
        "leader_election.retry_period_seconds",
        "int",
        2,
        "How often candidates try to take the Lease and the leader renews it.",
        minimum=1,
    ),
    Setting(
        "plugins.disabled",
        "list",
        [],
        "Plugins not to load, by name.",
        env="NAVARCH_DISABLE_PLUGINS",
    ),
    Setting(
        "plugins.trace", "bool", False, "Log every hook call (at DEBUG).", env="NAVARCH_TRACE_HOOKS"
    ),
)
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
