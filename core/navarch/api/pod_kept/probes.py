"""Health checks and hooks: liveness, readiness and startup probes, lifecycle hooks
(postStart, preStop) with their handlers, and the pod's readiness gates.
"""

from __future__ import annotations

from navarch.api.schema import IntOrString, Model, model, wire


@model()
class ExecAction(Model):
    command: tuple[str, ...] | None = wire()


@model()
class HTTPHeader(Model):
    name: str | None = wire()
    value: str | None = wire()


@model()
class HTTPGetAction(Model):
    path: str | None = wire()
    port: IntOrString | None = wire()
    host: str | None = wire()
    scheme: str | None = wire()
    http_headers: tuple[HTTPHeader, ...] | None = wire()


@model()
class TCPSocketAction(Model):
    port: IntOrString | None = wire()
    host: str | None = wire()


@model()
class GRPCAction(Model):
    port: int | None = wire()
    service: str | None = wire()


@model()
class SleepAction(Model):
    seconds: int | None = wire()


@model()
class Probe(Model):
    exec: ExecAction | None = wire()
    http_get: HTTPGetAction | None = wire()
    tcp_socket: TCPSocketAction | None = wire()
    grpc: GRPCAction | None = wire()
    initial_delay_seconds: int | None = wire()
    timeout_seconds: int | None = wire()
    period_seconds: int | None = wire()
    success_threshold: int | None = wire()
    failure_threshold: int | None = wire()
    termination_grace_period_seconds: int | None = wire()


@model()
class LifecycleHandler(Model):
    exec: ExecAction | None = wire()
    http_get: HTTPGetAction | None = wire()
    tcp_socket: TCPSocketAction | None = wire()
    sleep: SleepAction | None = wire()


@model()
class Lifecycle(Model):
    post_start: LifecycleHandler | None = wire()
    pre_stop: LifecycleHandler | None = wire()
    stop_signal: str | None = wire()


@model()
class PodReadinessGate(Model):
    condition_type: str | None = wire()
