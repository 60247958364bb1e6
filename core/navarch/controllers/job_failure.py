"""How a Job's failed pods count (Kubernetes' ``pkg/controller/job/pod_failure_policy.go``
and ``backoff_utils.go``): the pod failure policy's first matching rule decides
(FailJob ends the Job, Ignore does not count, Count counts), and the failures since
the last success delay the next pod by a back-off that doubles from ``base`` (10 s in
Kubernetes) up to ``cap`` (6 min).
"""

from __future__ import annotations

import attrs

from navarch.api.batch_v1 import PodFailurePolicy, PodFailurePolicyRule
from navarch.api.core_v1 import Pod

FAIL_JOB, IGNORE, COUNT = "FailJob", "Ignore", "Count"


@attrs.frozen
class Verdict:
    """What a failed pod means: ``action`` (FailJob, Ignore, Count) and, for a rule
    that matched, the message the Job's condition carries."""

    action: str
    message: str = ""


def judge(pod: Pod, policy: PodFailurePolicy | None) -> Verdict:
    """The first rule of ``policy`` matching the failed ``pod``, else Count. Only a pod
    in phase Failed is judged (one still terminating may yet end otherwise)."""
    for i, rule in enumerate((policy.rules if policy else None) or ()):
        message = _match(pod, rule, i)
        if message is not None and rule.action in (FAIL_JOB, IGNORE, COUNT):
            return Verdict(rule.action or COUNT, message)
    return Verdict(COUNT)


def _match(pod: Pod, rule: PodFailurePolicyRule, index: int) -> str | None:
    where = f"{pod.namespace}/{pod.name}"
    codes = rule.on_exit_codes
    if codes is not None:
        values = set(codes.values or ())
        for status in (pod.status.container_statuses if pod.status else None) or ():
            if codes.container_name and status.name != codes.container_name:
                continue
            terminated = status.state.terminated if status.state else None
            if terminated is None or not terminated.exit_code:
                continue  # success (0) never matches, as in Kubernetes
            code = terminated.exit_code
            if (code in values) == (codes.operator == "In"):
                return (
                    f"Container {status.name} for pod {where} failed with exit code "
                    f"{code} matching {rule.action} rule at index {index}"
                )
    for pattern in rule.on_pod_conditions or ():
        for condition in (pod.status.conditions if pod.status else None) or ():
            if condition.type == pattern.type and condition.status == (pattern.status or "True"):
                return (
                    f"Pod {where} has condition {condition.type} matching "
                    f"{rule.action} rule at index {index}"
                )
    return None


def retry_delay(finished: list[tuple[float, bool]], now: float, base: float, cap: float) -> float:
    """Seconds before the next pod may start, from the Job's finished pods (their finish
    time, and whether they succeeded): the failures since the last success, n of them,
    wait ``base * 2**(n - 1)`` (at most ``cap``) from the latest one. Read from the
    pods themselves every time, so a restarted controller keeps the back-off."""
    last_success = max((t for t, ok in finished if ok), default=float("-inf"))
    failures = [t for t, ok in finished if not ok and t >= last_success]
    if not failures:
        return 0.0
    delay = min(base * 2 ** (len(failures) - 1), cap)
    return max(0.0, max(failures) + delay - now)
