"""From a Pod's spec to what the runtime is asked for: the sandbox and each
container's config, with the labels that let a restarted agent adopt them."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import attrs
import orjson

from navarch.agent.envsources import EnvSources
from navarch.api import names
from navarch.api.quantity import Quantity
from navarch.runtime import ContainerConfig, Mount, PortMapping, SandboxConfig, labels


def pod_key(pod: Any) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"


def sandbox_config(pod: Any, node: str, attempt: int = 0) -> SandboxConfig:
    meta, spec = pod.metadata, pod.spec
    ports = tuple(p for c in spec.containers or () for p in _ports(c))
    return SandboxConfig(
        name=meta.name,
        namespace=meta.namespace,
        uid=meta.uid,
        attempt=attempt,
        host_network=bool(spec.host_network),
        hostname=_hostname(pod),
        labels=labels.sandbox_labels(node, meta.namespace, meta.name, meta.uid),
        annotations=dict(meta.annotations or {}),
        ports=ports,
    )


def container_config(
    pod: Any,
    container: Any,
    node: str,
    attempt: int,
    env: tuple[tuple[str, str], ...] | None = None,
    mounts: tuple[Mount, ...] = (),
) -> ContainerConfig:
    """``env``: the resolved environment (:func:`resolve_env`); command and args get
    their ``$(NAME)`` references expanded from it, as Kubernetes does. ``mounts``: the
    container's volumeMounts as host paths the agent prepared
    (:func:`navarch.agent.volumes.mounts.container_mounts`)."""
    meta = pod.metadata
    limits = (container.resources.limits if container.resources else None) or {}
    requests = (container.resources.requests if container.resources else None) or {}
    cpu_limit, memory_limit = limits.get("cpu"), limits.get("memory")
    cpu_request = requests.get("cpu")
    resolved = (
        env if env is not None else tuple((e.name, e.value or "") for e in container.env or ())
    )
    command, args = expanded_command(container, resolved)
    return ContainerConfig(
        name=container.name,
        image=container.image,
        command=command,
        args=args,
        env=resolved,
        working_dir=container.working_dir or "",
        labels={
            **labels.container_labels(
                node, meta.namespace, meta.name, meta.uid, container.name, attempt
            ),
            labels.CONTAINER_HASH: container_hash(container),
        },
        annotations=dict(meta.annotations or {}),
        ports=_ports(container),
        cpu_limit_millis=cpu_limit.milli() if cpu_limit is not None else None,
        cpu_request_millis=cpu_request.milli() if cpu_request is not None else None,
        memory_limit_bytes=memory_limit.ceil() if memory_limit is not None else None,
        stdin=bool(container.stdin),
        stdin_once=bool(container.stdin_once),
        tty=bool(container.tty),
        attempt=attempt,
        mounts=mounts,
    )


def container_hash(container: Any) -> str:
    """A digest of the container's definition, kept on each instance: when the pod's
    spec changes it (an image update), the running instance no longer matches."""
    encoded = orjson.dumps(container.to_dict(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()[:16]


def _ports(container: Any) -> tuple[PortMapping, ...]:
    return tuple(
        PortMapping(
            container_port=p.container_port,
            protocol=p.protocol or "TCP",
            host_port=p.host_port or 0,
            host_ip=p.host_ip or "",
        )
        for p in container.ports or ()
    )


MAX_HOSTNAME = 63  # a DNS label; the kernel's limit is 64 bytes with the NUL


def _hostname(pod: Any) -> str:
    """Kubernetes' GeneratePodHostNameAndDomain: spec.hostname when given, else the
    pod's name, cut to 63 characters — and then without the ``-`` and ``.`` the cut
    left at its end (a 253-character name whose 63rd is ``.`` is no hostname)."""
    hostname = pod.spec.hostname or pod.metadata.name
    if len(hostname) <= MAX_HOSTNAME:
        return hostname
    return hostname[:MAX_HOSTNAME].rstrip("-.")


class EnvError(ValueError):
    """An env var the agent cannot fill in (``CreateContainerConfigError``)."""


_VARIABLE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")
_SUBSCRIPT = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")

# What ``$(NAME)`` expansion may build for one container: its environment (NAME=value),
# command and args together, in characters. Expansion is Kubernetes' (each reference
# from variables defined before it, never recursively), yet a chain still doubles at
# every step: ``B=$(A)$(A)``, ``C=$(B)$(B)`` … 24 steps of a 6 KiB spec make 33 MB.
# Kubernetes has no bound of its own: the kubelet builds it all and the CRI's 16 MiB
# gRPC message refuses it. Linux refuses it earlier still: execve takes at most ARG_MAX
# (a quarter of the default 8 MiB stack, 2 MiB) of arguments and environment. So 2 MiB:
# no container that could have started is refused, and the agent stops expanding as
# soon as the bound is passed (its memory stays bounded too).
MAX_EXPANDED_SIZE = 2 * 1024 * 1024


@attrs.define
class ExpansionBudget:
    """What is left of :data:`MAX_EXPANDED_SIZE` for one container."""

    left: int = MAX_EXPANDED_SIZE

    def take(self, size: int, what: str) -> None:
        if size > self.left:
            raise EnvError(
                f"{what}: expanding $(VAR) references makes the container's env, command "
                f"and args longer than {MAX_EXPANDED_SIZE} characters (each variable that "
                f"references an earlier one twice doubles it); shorten them"
            )
        self.left -= size


def expand(
    text: str, values: Mapping[str, str], budget: ExpansionBudget | None = None, what: str = ""
) -> str:
    """Kubernetes' ``$(NAME)`` references: replaced when NAME is defined, left as they
    are otherwise; ``$$`` is a literal ``$``. With a ``budget``, the result's size is
    taken from it, and an :class:`EnvError` naming ``what`` is raised the moment it
    would not fit (before the oversized string is built)."""
    pieces: list[str] = []
    size, position = 0, 0
    for match in _VARIABLE.finditer(text):
        name = match.group(1)
        value = "$" if name is None else values.get(name, match.group(0))
        pieces += (text[position : match.start()], value)
        size += match.start() - position + len(value)
        position = match.end()
        if budget is not None and size > budget.left:
            budget.take(size, what)  # raises
    pieces.append(text[position:])
    size += len(text) - position
    if budget is not None:
        budget.take(size, what)
    return "".join(pieces)


def expanded_command(
    container: Any, env: tuple[tuple[str, str], ...], budget: ExpansionBudget | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The container's command and args with ``$(NAME)`` expanded from ``env``, within
    ``budget`` (a fresh one counting ``env`` when None)."""
    if budget is None:
        budget = ExpansionBudget()
        budget.take(sum(len(name) + 1 + len(value) for name, value in env), "env")
    values = dict(env)

    def each(field: str, parts: Any) -> tuple[str, ...]:
        return tuple(expand(p, values, budget, f"{field}[{i}]") for i, p in enumerate(parts or ()))

    return each("command", container.command), each("args", container.args)


def resolve_env(
    pod: Any,
    container: Any,
    *,
    host_ip: str,
    pod_ip: str,
    allocatable: Mapping[str, str],
    sources: EnvSources | None = None,
) -> tuple[tuple[str, str], ...]:
    """The container's environment in Kubernetes' order: ``envFrom`` first (each
    source's keys sorted, with its prefix; a key that is no variable name is skipped and
    named in ``sources.skipped``), then ``env`` overriding it: literal values (with
    ``$(NAME)`` of earlier ones expanded), the downward API (``fieldRef``,
    ``resourceFieldRef``) and ConfigMap and Secret keys from ``sources`` (what
    :func:`navarch.agent.envsources.read_env_sources` read). A missing object or key
    that is not optional is an EnvError with the kubelet's message; so is an
    environment, command and args that expand past :data:`MAX_EXPANDED_SIZE`."""
    sources = sources if sources is not None else EnvSources()
    resolved: dict[str, str] = {}
    budget = ExpansionBudget()
    namespace = pod.metadata.namespace
    for source in container.env_from or ():
        for name, value in _env_from(source, sources, namespace).items():
            budget.take(len(name) + 1 + len(value), f"envFrom {name}")
            resolved[name] = value
    for var in container.env or ():
        source = var.value_from
        budget.take(len(var.name) + 1, f"env {var.name}")
        if source is None:
            resolved[var.name] = expand(var.value or "", resolved, budget, f"env {var.name}")
        elif source.field_ref is not None:
            path = source.field_ref.field_path or ""
            resolved[var.name] = field_value(pod, path, host_ip, pod_ip)
        elif source.resource_field_ref is not None:
            resolved[var.name] = resource_value(container, source.resource_field_ref, allocatable)
        elif source.config_map_key_ref is not None or source.secret_key_ref is not None:
            from_key = _key_ref(source, sources, namespace)
            if from_key is None:
                continue  # optional and missing: Kubernetes leaves the variable out
            resolved[var.name] = from_key
        else:
            raise EnvError(
                f"env {var.name}: fileKeyRef is not supported yet; set the value in the pod "
                "spec or use a ConfigMap"
            )
        if source is not None:
            budget.take(len(resolved[var.name]), f"env {var.name}")
    env = tuple(resolved.items())
    expanded_command(container, env, budget)  # the command and args must fit as well
    return env


def _env_from(source: Any, sources: EnvSources, namespace: str) -> dict[str, str]:
    """One envFrom source's variables; keys that are no variable name are skipped (and
    recorded for the kubelet's InvalidEnvironmentVariableNames Event)."""
    if source.config_map_ref is not None:
        ref, found, word, kind = (
            source.config_map_ref,
            sources.config_maps,
            "configmap",
            "configMap",
        )
    elif source.secret_ref is not None:
        ref, found, word, kind = source.secret_ref, sources.secrets, "secret", "secret"
    else:
        return {}
    values = found.get(ref.name or "")
    if values is None:
        if ref.optional:
            return {}
        raise EnvError(f'{word} "{ref.name}" not found')
    variables, invalid = {}, []
    for key in sorted(values):
        name = (source.prefix or "") + key
        if names.env_var_name(name):
            invalid.append(name)
        else:
            variables[name] = values[key]
    if invalid:
        sources.skipped.append(
            f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {kind} {namespace}/{ref.name} "
            "were skipped since they are considered invalid environment variable names."
        )
    return variables


def _key_ref(source: Any, sources: EnvSources, namespace: str) -> str | None:
    """A configMapKeyRef's or secretKeyRef's value; None when optional and missing."""
    if source.config_map_key_ref is not None:
        ref, found = source.config_map_key_ref, sources.config_maps
        word, kind = "configmap", "ConfigMap"
    else:
        ref, found, word, kind = source.secret_key_ref, sources.secrets, "secret", "Secret"
    values = found.get(ref.name or "")
    if values is None:
        if ref.optional:
            return None
        raise EnvError(f'{word} "{ref.name}" not found')
    if ref.key not in values:
        if ref.optional:
            return None
        raise EnvError(f"couldn't find key {ref.key} in {kind} {namespace}/{ref.name}")
    return values[ref.key]


def field_value(pod: Any, path: str, host_ip: str, pod_ip: str) -> str:
    """A fieldRef's value (env and downwardAPI volumes)."""
    meta = pod.metadata
    simple = {
        "metadata.name": meta.name,
        "metadata.namespace": meta.namespace,
        "metadata.uid": meta.uid,
        "spec.nodeName": pod.spec.node_name,
        "spec.serviceAccountName": pod.spec.service_account_name or "default",
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
    }
    if path in simple:
        return str(simple[path] or "")
    subscript = _SUBSCRIPT.match(path)
    if subscript is not None:
        found = getattr(meta, subscript.group(1)) or {}
        return str(found.get(subscript.group(2), ""))
    raise EnvError(f"fieldRef {path!r} is not supported")


def resource_value(container: Any, ref: Any, allocatable: Mapping[str, str]) -> str:
    kind, _, resource = (ref.resource or "").partition(".")
    if kind not in ("limits", "requests") or resource not in ("cpu", "memory"):
        raise EnvError(f"resourceFieldRef {ref.resource!r} is not supported")
    resources = container.resources
    values = (getattr(resources, kind) if resources else None) or {}
    # Kubernetes: an unset limit is the node's allocatable; an unset request is 0.
    quantity = values.get(resource)
    if quantity is None:
        if kind == "requests":
            return "0"
        quantity = Quantity.parse(allocatable.get(resource, "0"))
    divisor = ref.divisor or Quantity.parse("1")
    return str(math.ceil(Fraction(quantity.value) / Fraction(divisor.value)))
