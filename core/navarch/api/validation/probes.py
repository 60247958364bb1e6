"""Validation of probes (liveness, readiness, startup) and lifecycle hooks: exactly one
handler each, and each handler's fields.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from navarch.api import errors
from navarch.api.field_checks import Errors, enum, in_range, non_negative, positive
from navarch.api.pod_kept import HTTPGetAction, Lifecycle, LifecycleHandler, Probe
from navarch.api.schema import join
from navarch.api.validation.ports import validate_port_num_or_name

URI_SCHEMES = ("HTTP", "HTTPS")
_HTTP_HEADER = re.compile(r"[-A-Za-z0-9]+")


def validate_probe(
    probe: Probe | None, path: str, *, single_success: bool = False, readiness: bool = False
) -> Errors:
    if probe is None:
        return []
    handlers = [
        (wire, value)
        for wire, value in (
            ("exec", probe.exec),
            ("httpGet", probe.http_get),
            ("tcpSocket", probe.tcp_socket),
            ("grpc", probe.grpc),
        )
        if value is not None
    ]
    errs = _handlers(handlers, path)
    for attr, wire in (
        ("initial_delay_seconds", "initialDelaySeconds"),
        ("timeout_seconds", "timeoutSeconds"),
        ("period_seconds", "periodSeconds"),
        ("success_threshold", "successThreshold"),
        ("failure_threshold", "failureThreshold"),
    ):
        value = getattr(probe, attr)
        if value is not None and value < 0:
            errs += non_negative(value, join(path, wire))
    if single_success and probe.success_threshold not in (None, 1):
        errs.append(
            errors.invalid(join(path, "successThreshold"), probe.success_threshold, "must be 1")
        )
    if probe.termination_grace_period_seconds is not None:
        grace_path = join(path, "terminationGracePeriodSeconds")
        if readiness:
            errs.append(
                errors.invalid(
                    grace_path,
                    probe.termination_grace_period_seconds,
                    "must not be set for readinessProbes",
                )
            )
        else:
            errs += positive(probe.termination_grace_period_seconds, grace_path)
    if probe.grpc is not None:
        errs += in_range(probe.grpc.port, join(path, "grpc.port"), 1, 65535)
        if probe.grpc.port is None:
            errs.append(errors.required(join(path, "grpc.port")))
    return errs


def validate_lifecycle(lifecycle: Lifecycle | None, path: str) -> Errors:
    if lifecycle is None:
        return []
    errs: Errors = []
    for hook, wire in ((lifecycle.post_start, "postStart"), (lifecycle.pre_stop, "preStop")):
        if hook is not None:
            errs += _lifecycle_handler(hook, join(path, wire))
    return errs


def _lifecycle_handler(handler: LifecycleHandler, path: str) -> Errors:
    handlers = [
        (wire, value)
        for wire, value in (
            ("exec", handler.exec),
            ("httpGet", handler.http_get),
            ("tcpSocket", handler.tcp_socket),
            ("sleep", handler.sleep),
        )
        if value is not None
    ]
    errs = _handlers(handlers, path)
    if handler.sleep is not None:
        # Zero is allowed since Kubernetes 1.32 (PodLifecycleSleepActionAllowZero).
        errs += non_negative(handler.sleep.seconds, join(path, "sleep.seconds"))
    return errs


def _handlers(handlers: Sequence[tuple[str, object]], path: str) -> Errors:
    """Exactly one handler, each checked."""
    if not handlers:
        return [errors.required(path, "must specify a handler type")]
    errs = [
        errors.forbidden(join(path, wire), "may not specify more than 1 handler type")
        for wire, _ in handlers[1:]
    ]
    for wire, value in handlers:
        handler_path = join(path, wire)
        if wire == "exec":
            if not getattr(value, "command", None):
                errs.append(errors.required(join(handler_path, "command")))
        elif wire == "httpGet":
            assert isinstance(value, HTTPGetAction)
            errs += validate_port_num_or_name(value.port, join(handler_path, "port"))
            errs += enum(value.scheme, join(handler_path, "scheme"), URI_SCHEMES)
            for i, header in enumerate(value.http_headers or ()):
                name_path = f"{join(handler_path, 'httpHeaders')}[{i}].name"
                if not header.name or not _HTTP_HEADER.fullmatch(header.name):
                    errs.append(
                        errors.invalid(
                            name_path,
                            header.name or "",
                            "a valid HTTP header must consist of alphanumeric characters or "
                            "'-' (e.g. 'X-Header-Name')",
                        )
                    )
        elif wire == "tcpSocket":
            errs += validate_port_num_or_name(
                getattr(value, "port", None), join(handler_path, "port")
            )
    return errs
