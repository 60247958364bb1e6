"""Deployments, Jobs and CronJobs as ``kubectl create deployment|job|cronjob`` builds
them, and a Job made from a CronJob's template (``create job --from=cronjob/NAME``)."""

from __future__ import annotations

import copy
from typing import Any

# kubectl's mark on a Job started by hand from a CronJob (the CronJob controller never
# sets it, so the Job's origin stays visible).
INSTANTIATE_ANNOTATION = "cronjob.kubernetes.io/instantiate"


def container_name(image: str) -> str:
    """``registry:5000/team/web:1.2`` → ``web`` (kubectl's rule: the image's last path
    part without tag or digest, made a DNS label)."""
    last = image.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in last.lower()).strip("-")
    return cleaned[:63] or "app"


def deployment_manifest(
    name: str, image: str, replicas: int, port: int | None, command: list[str] | None = None
) -> dict[str, Any]:
    """What ``kubectl create deployment`` builds: label ``app=NAME`` on the pods and as
    the selector, one container named after the image (with ``command`` when given)."""
    container: dict[str, Any] = {"name": container_name(image), "image": image}
    if command:
        container["command"] = list(command)
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }


def _pod_template(name: str, image: str, command: list[str], restart_policy: str) -> dict[str, Any]:
    """kubectl's batch pod template: one container named after the object (not the
    image, unlike a Deployment's), ``command`` only when one is given, and the empty
    ``metadata`` and ``resources`` kubectl sends (so the stored objects are the same)."""
    container: dict[str, Any] = {"name": name, "image": image, "resources": {}}
    if command:
        container["command"] = list(command)
    return {"metadata": {}, "spec": {"containers": [container], "restartPolicy": restart_policy}}


def job_manifest(name: str, image: str, command: list[str]) -> dict[str, Any]:
    """``kubectl create job NAME --image=IMAGE [-- COMMAND]``: restartPolicy Never."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": _pod_template(name, image, command, "Never")},
    }


def cronjob_manifest(
    name: str, image: str, schedule: str, command: list[str], restart_policy: str = "OnFailure"
) -> dict[str, Any]:
    """``kubectl create cronjob NAME --image=IMAGE --schedule=CRON [-- COMMAND]``; the
    job template carries the CronJob's name, as kubectl writes it."""
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {
            "schedule": schedule,
            "jobTemplate": {
                "metadata": {"name": name},
                "spec": {"template": _pod_template(name, image, command, restart_policy)},
            },
        },
    }


def job_from_cronjob(name: str, cronjob: dict[str, Any]) -> dict[str, Any]:
    """kubectl's createJobFromCronJob: the CronJob's job template (its spec, labels and
    annotations) under a new name, marked ``instantiate=manual`` and controlled by the
    CronJob. ``blockOwnerDeletion`` is left out, as kubectl leaves it out (setting it
    needs the right to update the CronJob's finalizers)."""
    template = cronjob.get("spec", {}).get("jobTemplate") or {}
    template_meta = template.get("metadata") or {}
    meta = cronjob.get("metadata") or {}
    metadata: dict[str, Any] = {
        "name": name,
        "annotations": {
            INSTANTIATE_ANNOTATION: "manual",
            **(template_meta.get("annotations") or {}),
        },
        "ownerReferences": [
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "name": meta.get("name"),
                "uid": meta.get("uid"),
                "controller": True,
            }
        ],
    }
    if template_meta.get("labels"):
        metadata["labels"] = dict(template_meta["labels"])
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }
