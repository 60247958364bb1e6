"""Validation of a Lease (node heartbeats, leader election): duration and transitions."""

from __future__ import annotations

from navarch.api import errors
from navarch.api.coordination_v1 import Lease
from navarch.api.field_checks import Errors, non_negative


def validate_lease(lease: Lease) -> Errors:
    spec = lease.spec
    if spec is None:
        return []
    errs: Errors = []
    if spec.lease_duration_seconds is not None and spec.lease_duration_seconds <= 0:
        errs.append(
            errors.invalid(
                "spec.leaseDurationSeconds", spec.lease_duration_seconds, "must be greater than 0"
            )
        )
    errs += non_negative(spec.lease_transitions, "spec.leaseTransitions")
    return errs
