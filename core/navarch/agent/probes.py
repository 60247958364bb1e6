"""Liveness, readiness and startup probes (exec, httpGet, tcpSocket) with Kubernetes'
timing fields: ``initialDelaySeconds``, ``periodSeconds`` (10), ``timeoutSeconds``
(1), ``successThreshold`` (1), ``failureThreshold`` (3).

One task per probe of a running container instance; a result that crosses its
threshold is recorded and the pod's worker is woken (readiness drives Ready; a failed
liveness or startup probe makes the worker restart the container). Until the startup
probe succeeds, liveness and readiness do not run."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from typing import Any, Protocol

import attrs
from loguru import logger

from navarch.agent import netns
from navarch.runtime import Runtime

LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"


class ProbeAnswers(Protocol):
    """Implemented by runtimes whose containers have no network to probe (the
    simulator): they answer httpGet and tcpSocket probes themselves."""

    def probe_answer(self, container_id: str, kind: str) -> bool | None: ...


@attrs.frozen
class Target:
    """Where network probes of a pod go. ``reachable`` is False for a pod in a namespace
    the agent cannot enter and has no IP (the simulator): only the runtime can answer."""

    pod_ip: str
    netns_path: str  # "" : the agent's namespace (hostNetwork, or a routable pod IP)
    reachable: bool = True


@attrs.define
class ProbeState:
    result: bool | None = None  # None until a threshold is crossed
    successes: int = 0
    failures: int = 0
    message: str = ""


@attrs.define
class ContainerProbes:
    container_id: str
    tasks: list[asyncio.Task[None]] = attrs.field(factory=list)
    states: dict[str, ProbeState] = attrs.field(factory=dict)


@attrs.define
class ProbeManager:
    runtime: Runtime
    on_change: Callable[[str], None]  # (pod uid) -> wake its worker
    # (pod uid, container, kind, message) -> an Unhealthy Event, as the kubelet records
    on_failure: Callable[[str, str, str, str], None] | None = None
    _probes: dict[tuple[str, str], ContainerProbes] = attrs.field(factory=dict)

    def sync(
        self,
        uid: str,
        container: Any,
        container_id: str | None,
        target: Target,
        started_at: float | None = None,
    ) -> None:
        """Start the probes of a running instance; stop those of one that is gone.
        ``initialDelaySeconds`` counts from the container's start (``started_at``), so
        an agent that restarts does not delay the probes of the containers it adopts."""
        key = (uid, container.name)
        current = self._probes.get(key)
        if current is not None and current.container_id == container_id:
            return
        if current is not None:
            self._stop(current)
            del self._probes[key]
        if container_id is None:
            return
        probes = ContainerProbes(container_id)
        self._probes[key] = probes
        specs = {
            STARTUP: container.startup_probe,
            LIVENESS: container.liveness_probe,
            READINESS: container.readiness_probe,
        }
        for kind, spec in specs.items():
            if spec is not None:
                probes.states[kind] = ProbeState()
                probes.tasks.append(
                    asyncio.create_task(
                        self._run(uid, container, probes, kind, spec, target, started_at)
                    )
                )

    def ready(self, uid: str, name: str) -> bool:
        probes = self._probes.get((uid, name))
        if probes is None:
            return True
        if not self.started(uid, name):
            return False
        state = probes.states.get(READINESS)
        return state is None or bool(state.result)

    def started(self, uid: str, name: str) -> bool:
        probes = self._probes.get((uid, name))
        state = probes.states.get(STARTUP) if probes is not None else None
        return state is None or bool(state.result)

    def failed(self, uid: str, name: str, container_id: str) -> str:
        """Why the instance must be restarted (its liveness or startup probe failed), or ""."""
        probes = self._probes.get((uid, name))
        if probes is None or probes.container_id != container_id:
            return ""
        for kind in (STARTUP, LIVENESS):
            state = probes.states.get(kind)
            if state is not None and state.result is False:
                return f"{kind.capitalize()} probe failed: {state.message}"
        return ""

    def holds(self, uid: str) -> bool:
        return any(k[0] == uid for k in self._probes)

    def forget(self, uid: str) -> None:
        for key in [k for k in self._probes if k[0] == uid]:
            self._stop(self._probes.pop(key))

    def close(self) -> None:
        for probes in self._probes.values():
            self._stop(probes)
        self._probes.clear()

    @staticmethod
    def _stop(probes: ContainerProbes) -> None:
        for task in probes.tasks:
            task.cancel()

    async def _run(
        self,
        uid: str,
        container: Any,
        probes: ContainerProbes,
        kind: str,
        spec: Any,
        target: Target,
        started_at: float | None,
    ) -> None:
        name = container.name
        period = spec.period_seconds or 10
        timeout = spec.timeout_seconds or 1
        success_threshold = spec.success_threshold or 1
        failure_threshold = spec.failure_threshold or 3
        state = probes.states[kind]
        log = logger.bind(component="agent", pod_uid=uid, container=name, probe=kind)
        since_start = time.time() - (started_at or time.time())
        await asyncio.sleep(max(0.0, (spec.initial_delay_seconds or 0) - since_start))
        while True:
            if kind != STARTUP:
                startup = probes.states.get(STARTUP)
                if startup is not None and not startup.result:
                    await asyncio.sleep(1)
                    continue
            ok, message = await self._probe_once(
                probes.container_id, container, kind, spec, target, timeout
            )
            if ok is None:  # cannot be probed: Unknown, which is neither success nor failure
                if message != state.message:
                    log.bind(message=message).warning("probe cannot run")
                    state.message = message
                await asyncio.sleep(period)
                continue
            if ok:
                state.successes, state.failures = state.successes + 1, 0
            else:
                state.successes, state.failures = 0, state.failures + 1
                state.message = message
                if self.on_failure is not None:
                    self.on_failure(uid, name, kind, message)
            before = state.result
            if ok and state.successes >= success_threshold:
                state.result = True
            elif not ok and state.failures >= failure_threshold:
                state.result = False
            if state.result != before:
                log.bind(result=state.result, message=message).info("probe result changed")
                self.on_change(uid)
            if kind == STARTUP and state.result:
                return  # a startup probe runs until it first succeeds
            await asyncio.sleep(period)

    async def _probe_once(
        self,
        container_id: str,
        container: Any,
        kind: str,
        spec: Any,
        target: Target,
        timeout: float,
    ) -> tuple[bool | None, str]:
        """(True | False | None for Unknown, message)."""
        try:
            if spec.exec is not None:
                result = await self.runtime.exec_sync(
                    container_id, list(spec.exec.command or ()), timeout
                )
                output = (result.stdout + result.stderr).decode(errors="replace").strip()
                return result.exit_code == 0, output or f"command exited with {result.exit_code}"
            answers = getattr(self.runtime, "probe_answer", None)
            if answers is not None:
                answer = answers(container_id, kind)
                if answer is not None:
                    return bool(answer), "" if answer else "the simulated probe failed"
            network = spec.http_get or spec.tcp_socket
            if network is not None and not target.reachable:
                return None, "the pod's network cannot be reached from the agent"
            if spec.http_get is not None:
                port = _port(spec.http_get.port, container)
                return await asyncio.wait_for(_http_get(spec.http_get, port, target), timeout)
            if spec.tcp_socket is not None:
                port = _port(spec.tcp_socket.port, container)
                return await asyncio.wait_for(_tcp(spec.tcp_socket, port, target), timeout)
            return None, "the probe has no handler Navarch supports (exec, httpGet, tcpSocket)"
        except TimeoutError:
            return False, f"timeout after {timeout}s"
        except NamedPortMissing as exc:
            return None, str(exc)
        except Exception as exc:
            return False, str(exc) or type(exc).__name__


class NamedPortMissing(LookupError):
    pass


def _port(value: Any, container: Any) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(value, int):
        return value
    if str(value).isdigit():
        return int(value)
    for port in container.ports or ():
        if port.name == value:
            return int(port.container_port)
    raise NamedPortMissing(f"the container has no port named {value!r}")


async def _tcp(action: Any, port: int, target: Target) -> tuple[bool, str]:
    host = action.host or target.pod_ip or "127.0.0.1"
    _, writer = await netns.open_connection(host, port, target.netns_path)
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return True, ""


async def _http_get(action: Any, port: int, target: Target) -> tuple[bool, str]:
    host = action.host or target.pod_ip or "127.0.0.1"
    # HTTPS as the kubelet does it: encrypted, the certificate not verified.
    tls = None
    if (action.scheme or "HTTP").upper() == "HTTPS":
        tls = ssl.create_default_context()
        tls.check_hostname = False
        tls.verify_mode = ssl.CERT_NONE
    reader, writer = await netns.open_connection(host, port, target.netns_path, tls)
    try:
        headers = {"Host": f"{host}:{port}", "User-Agent": "navarch-probe/1.0", "Accept": "*/*"}
        headers.update({h.name: h.value for h in action.http_headers or ()})
        lines = [f"GET {action.path or '/'} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
        writer.write(("\r\n".join([*lines, "Connection: close", "", ""])).encode())
        await writer.drain()
        status_line = (await reader.readline()).decode(errors="replace").split()
        code = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
        # Kubernetes: 200 <= code < 400 succeeds.
        return 200 <= code < 400, f"HTTP probe failed with statuscode: {code}"
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
