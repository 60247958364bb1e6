"""DefaultTolerationSeconds (Kubernetes' admission plugin of that name): every pod
created gets tolerations of the ``node.kubernetes.io/not-ready`` and
``node.kubernetes.io/unreachable`` NoExecute taints for a bounded time, unless it
already tolerates them. A pod thus stays on a node that stopped answering for that
long (a short network blip costs nothing) and is evicted after it by the node
lifecycle controller, so its ReplicaSet brings it back elsewhere.

Updates get them too, as in Kubernetes: a pod's tolerations may be added to but never
taken away, so a ``kubectl replace`` of the manifest the pod was made from must get
them back.

The seconds are the API server's settings ``admission.default_not_ready_toleration_seconds``
and ``admission.default_unreachable_toleration_seconds`` (Kubernetes: 300 each; Navarch
10, so that a dead node's pods move within 30 s: see docs/controllers.md). They are read
when the API server starts (``navarch_startup``); until then, the settings' defaults.
"""

from __future__ import annotations

from typing import Any

import attrs
import pluggy

from navarch import hookimpl
from navarch.admission import CREATE, UPDATE, AdmissionRequest, handles
from navarch.api.core_v1 import Pod, Toleration
from navarch.config import BY_KEY, Config

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY_SETTING = "admission.default_not_ready_toleration_seconds"
UNREACHABLE_SETTING = "admission.default_unreachable_toleration_seconds"

# The API server's configuration, set at its start-up (one API server per process).
_seconds: dict[str, int] = {
    NOT_READY: BY_KEY[NOT_READY_SETTING].default,
    UNREACHABLE: BY_KEY[UNREACHABLE_SETTING].default,
}


@hookimpl
def navarch_startup(config: Config, pm: pluggy.PluginManager, component: str) -> None:
    if component == "apiserver":
        _seconds[NOT_READY] = config[NOT_READY_SETTING]
        _seconds[UNREACHABLE] = config[UNREACHABLE_SETTING]


@hookimpl
@handles(kinds=("Pod",), operations=(CREATE, UPDATE))
def navarch_admission_mutate(request: AdmissionRequest) -> None:
    pod = request.obj
    if not isinstance(pod, Pod) or pod.spec is None or request.subresource:
        return
    existing = tuple(pod.spec.tolerations or ())
    added = tuple(
        Toleration(key=key, operator="Exists", effect="NoExecute", toleration_seconds=_seconds[key])
        for key in (NOT_READY, UNREACHABLE)
        if not any(_covers(t, key) for t in existing)
    )
    if added:
        request.obj = attrs.evolve(pod, spec=attrs.evolve(pod.spec, tolerations=existing + added))


def _covers(toleration: Any, key: str) -> bool:
    """Whether an existing toleration already speaks for ``key``'s NoExecute taint (an
    empty key or effect is a wildcard), as Kubernetes' plugin decides: then the pod's
    own choice, with or without seconds, stands."""
    return (not toleration.key or toleration.key == key) and (
        not toleration.effect or toleration.effect == "NoExecute"
    )
