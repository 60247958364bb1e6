"""kubectl's Job and CronJob describers."""

from __future__ import annotations

from typing import Any

from navarch.cli.navctl.describers import (
    NONE,
    UNSET,
    Lines,
    annotation_lines,
    bool_ptr,
    controller_of,
    events,
    labels,
    meta,
    pod_template,
    rfc1123z,
    selector_string,
)
from navarch.cli.navctl.session import Session
from navarch.printers.durations import human_duration, parse_time

INDEXED = "Indexed"
MAX_INDEXES_SHOWN = 50  # kubectl's capIndexesListOrNone


async def describe_job(session: Session, job: dict[str, Any]) -> Lines:
    metadata, spec, status = meta(job), job.get("spec") or {}, job.get("status") or {}
    out = [f"Name:\t{metadata.get('name')}", f"Namespace:\t{metadata.get('namespace')}"]
    out.append(f"Selector:\t{selector_string(spec.get('selector'))}")
    out += labels("Labels", metadata.get("labels"))
    out += annotation_lines(metadata.get("annotations"))
    if controlled := controller_of(job):
        out.append(f"Controlled By:\t{controlled}")
    if spec.get("parallelism") is not None:
        out.append(f"Parallelism:\t{spec['parallelism']}")
    out.append(f"Completions:\t{spec.get('completions', UNSET)}")
    if spec.get("completionMode"):
        out.append(f"Completion Mode:\t{spec['completionMode']}")
    if spec.get("suspend") is not None:
        out.append(f"Suspend:\t{str(bool(spec['suspend'])).lower()}")
    if spec.get("backoffLimit") is not None:
        out.append(f"Backoff Limit:\t{spec['backoffLimit']}")
    if spec.get("ttlSecondsAfterFinished") is not None:
        out.append(f"TTL Seconds After Finished:\t{spec['ttlSecondsAfterFinished']}")
    started, completed = status.get("startTime"), status.get("completionTime")
    if started:
        out.append(f"Start Time:\t{rfc1123z(started)}")
    if completed:
        out.append(f"Completed At:\t{rfc1123z(completed)}")
    start, end = parse_time(started), parse_time(completed)
    if start and end:
        out.append(f"Duration:\t{human_duration((end - start).total_seconds())}")
    if spec.get("activeDeadlineSeconds") is not None:
        out.append(f"Active Deadline Seconds:\t{spec['activeDeadlineSeconds']}s")
    counts = (status.get("active", 0), status.get("succeeded", 0), status.get("failed", 0))
    if status.get("ready") is None:
        pods = f"{counts[0]} Active / {counts[1]} Succeeded / {counts[2]} Failed"
    else:
        pods = (
            f"{counts[0]} Active ({status['ready']} Ready) / {counts[1]} Succeeded / "
            f"{counts[2]} Failed"
        )
    out.append(f"Pods Statuses:\t{pods}")
    if spec.get("completionMode") == INDEXED:
        out.append(f"Completed Indexes:\t{_indexes(status.get('completedIndexes'))}")
    out += pod_template(spec.get("template"))
    return out + await events(session, job)


def _indexes(completed: str | None) -> str:
    """capIndexesListOrNone: at most 50 of the comma-separated intervals, then ``...``."""
    if not completed:
        return NONE
    parts = completed.split(",")
    return ",".join(parts[:MAX_INDEXES_SHOWN]) + (",..." if len(parts) > MAX_INDEXES_SHOWN else "")


async def describe_cronjob(session: Session, cronjob: dict[str, Any]) -> Lines:
    metadata, spec, status = meta(cronjob), cronjob.get("spec") or {}, cronjob.get("status") or {}
    out = [f"Name:\t{metadata.get('name')}", f"Namespace:\t{metadata.get('namespace')}"]
    out += labels("Labels", metadata.get("labels"))
    out += annotation_lines(metadata.get("annotations"))
    out.append(f"Schedule:\t{spec.get('schedule', '')}")
    out.append(f"Concurrency Policy:\t{spec.get('concurrencyPolicy', '')}")
    out.append(f"Suspend:\t{bool_ptr(spec.get('suspend'))}")
    out.append(f"Successful Job History Limit:\t{spec.get('successfulJobsHistoryLimit', UNSET)}")
    out.append(f"Failed Job History Limit:\t{spec.get('failedJobsHistoryLimit', UNSET)}")
    deadline = spec.get("startingDeadlineSeconds")
    out.append(f"Starting Deadline Seconds:\t{UNSET if deadline is None else f'{deadline}s'}")
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    selector = job_spec.get("selector")
    out.append(f"Selector:\t{UNSET if selector is None else selector_string(selector)}")
    out.append(f"Parallelism:\t{job_spec.get('parallelism', UNSET)}")
    out.append(f"Completions:\t{job_spec.get('completions', UNSET)}")
    if job_spec.get("activeDeadlineSeconds") is not None:
        out.append(f"Active Deadline Seconds:\t{job_spec['activeDeadlineSeconds']}s")
    out += pod_template(job_spec.get("template"))
    last = status.get("lastScheduleTime")
    out.append(f"Last Schedule Time:\t{rfc1123z(last) if last else UNSET}")
    active = [str(ref.get("name")) for ref in status.get("active") or []]
    out.append(f"Active Jobs:\t{', '.join(active) or NONE}")
    return out + await events(session, cronjob)
