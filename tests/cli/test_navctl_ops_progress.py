"""progress.py's readiness rules (kubectl rollout status's words) and its plain output."""

from __future__ import annotations

import io

from navarch.cli.navctl.progress import (
    PlainReporter,
    Readiness,
    deployment_readiness,
    pod_readiness,
    readiness,
    replicaset_readiness,
    reporter_for,
)


def deployment(generation=2, observed=2, wanted=3, **status):
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": wanted},
        "status": {"observedGeneration": observed, **status},
    }


def test_deployment_messages_follow_kubectl_rollout_status():
    assert deployment_readiness(deployment(observed=1)).message == (
        "Waiting for deployment spec update to be observed..."
    )
    state = deployment_readiness(deployment(updatedReplicas=1, replicas=3))
    assert state.message == (
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been '
        "updated..."
    )
    assert not state.done
    state = deployment_readiness(deployment(updatedReplicas=3, replicas=4, availableReplicas=3))
    assert state.message.endswith("1 old replicas are pending termination...")
    state = deployment_readiness(deployment(updatedReplicas=3, replicas=3, availableReplicas=2))
    assert state.message.endswith("2 of 3 updated replicas are available...")
    assert (state.current, state.total) == (2, 3)
    state = deployment_readiness(deployment(updatedReplicas=3, replicas=3, availableReplicas=3))
    assert state == Readiness('deployment "web" successfully rolled out', 3, 3, done=True)


def test_deployment_past_its_progress_deadline_fails():
    obj = deployment(
        conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}],
        updatedReplicas=1,
    )
    state = deployment_readiness(obj)
    assert state.done and state.failed
    assert state.message == 'deployment "web" exceeded its progress deadline'


def test_pod_and_replicaset_rules():
    running = {"type": "Ready", "status": "True"}
    pod = {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"nodeName": "n1"}}
    assert pod_readiness({**pod, "status": {"phase": "Running", "conditions": [running]}}).done
    assert pod_readiness({**pod, "status": {"phase": "Succeeded"}}).done
    failed = pod_readiness({**pod, "status": {"phase": "Failed", "reason": "Error"}})
    assert failed.failed and failed.message == "Failed: Error"
    waiting = {"state": {"waiting": {"reason": "ContainerCreating"}}}
    pending = pod_readiness({**pod, "status": {"containerStatuses": [waiting]}})
    assert pending.message == "Pending (ContainerCreating)" and not pending.done
    rs = {"kind": "ReplicaSet", "metadata": {"name": "r", "generation": 1}, "spec": {"replicas": 2}}
    assert not replicaset_readiness({**rs, "status": {"observedGeneration": 1}}).done
    assert replicaset_readiness(
        {**rs, "status": {"observedGeneration": 1, "readyReplicas": 2}}
    ).done
    assert readiness({"kind": "ConfigMap", "metadata": {"name": "c"}}).done


def test_rules_are_chosen_by_group_and_kind():
    # a plugin's kind named Pod in a group of its own is not judged as a pod
    pending = {"metadata": {"name": "p"}, "spec": {}, "status": {"phase": "Pending"}}
    assert not readiness({"apiVersion": "v1", "kind": "Pod", **pending}).done
    assert readiness({"apiVersion": "example.io/v1", "kind": "Pod", **pending}).done
    unrolled = deployment(observed=1)
    assert not readiness({"apiVersion": "apps/v1", **unrolled}).done
    assert readiness({"apiVersion": "example.io/v1", **unrolled}).done


def test_piped_output_is_one_plain_line_per_change():
    out = io.StringIO()
    reporter = reporter_for(out)
    assert isinstance(reporter, PlainReporter)
    reporter.show("pod/p", Readiness("Pending"))
    reporter.show("pod/p", Readiness("Pending"))
    reporter.show("pod/p", Readiness("Running and Ready", 1, 1, done=True))
    assert out.getvalue() == "pod/p: Pending\npod/p: Running and Ready\n"
