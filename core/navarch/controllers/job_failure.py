"""How a Job's failed pods count (Kubernetes' ``pkg/controller/job/pod_failure_policy.go``
and ``backoff_utils.go``): the pod failure policy's first matching rule decides
(FailJob ends the Job, Ignore does not count, Count counts), and a failure since the
last success delays the next pod by a back-off that doubles from ``base`` (10 s in
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


@attrs.define
class Backoff:
    """Failures since the last success, and when the last was: the next pod waits
    ``base * 2**(failures - 1)`` seconds (at most ``cap``) from then."""

    failures: int = 0
    last_failure: float = 0.0

    def failed(self, count: int, when: float) -> None:
        self.failures += count
        self.last_failure = max(self.last_failure, when)

    def succeeded(self) -> None:
        self.failures = 0

    def remaining(self, now: float, base: float, cap: float) -> float:
        if self.failures <= 0:
            return 0.0
        delay = min(base * 2 ** (self.failures - 1), cap)
        return max(0.0, self.last_failure + delay - now)
