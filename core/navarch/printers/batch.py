"""The jobs and cronjobs Tables, as kubectl prints them (``printJob``,
``printCronJob``): a Job's status, completions and duration; a CronJob's schedule,
time zone, suspension, active Jobs and last schedule; the template's containers,
images and selector as wide columns."""

from __future__ import annotations

import datetime as dt
from typing import Any

from navarch.printers.cells import (
    AGE_COLUMN,
    NAME_COLUMN,
    NONE,
    Cells,
    Column,
    Printer,
    age_of,
    dicts_at,
    get_in,
    name_of,
    wide,
)
from navarch.printers.durations import human_duration, parse_time, since
from navarch.printers.workloads import containers_and_images, selector_string


def _has_condition(status: dict[str, Any], kind: str) -> bool:
    return any(
        c.get("type") == kind and c.get("status") == "True" for c in dicts_at(status, "conditions")
    )


def job_status(obj: dict[str, Any]) -> str:
    """kubectl's STATUS of a Job: its terminal condition first, then Terminating,
    Suspended, the 1.31 interim conditions, else Running."""
    status = obj.get("status") or {}
    for condition, shown in (("Complete", "Complete"), ("Failed", "Failed")):
        if _has_condition(status, condition):
            return shown
    if get_in(obj, "metadata", "deletionTimestamp"):
        return "Terminating"
    for condition in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has_condition(status, condition):
            return condition
    return "Running"


def job_completions(spec: dict[str, Any], status: dict[str, Any]) -> str:
    succeeded = int(status.get("succeeded") or 0)
    completions = spec.get("completions")
    if completions is not None:
        return f"{succeeded}/{completions}"
    parallelism = int(spec.get("parallelism") or 0)
    if parallelism > 1:
        return f"{succeeded}/1 of {parallelism}"
    return f"{succeeded}/1"


def job_duration(status: dict[str, Any], now: dt.datetime) -> str:
    start = parse_time(status.get("startTime"))
    if start is None:
        return ""
    end = parse_time(status.get("completionTime")) or now
    return human_duration((end - start).total_seconds())


def job_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME STATUS COMPLETIONS DURATION AGE, then CONTAINERS IMAGES SELECTOR."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [
        name_of(obj),
        job_status(obj),
        job_completions(spec, status),
        job_duration(status, now),
        age_of(obj, now),
        *containers_and_images(get_in(spec, "template", "spec")),
        selector_string(spec.get("selector")) or NONE,
    ]


def cronjob_cells(obj: dict[str, Any], now: dt.datetime) -> Cells:
    """NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE, then CONTAINERS
    IMAGES SELECTOR."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    last = status.get("lastScheduleTime")
    job_spec = get_in(spec, "jobTemplate", "spec") or {}
    return [
        name_of(obj),
        spec.get("schedule") or "",
        spec.get("timeZone") or NONE,
        "True" if spec.get("suspend") else "False",
        len(dicts_at(status, "active")),
        since(last, now) if last else NONE,
        age_of(obj, now),
        *containers_and_images(get_in(job_spec, "template", "spec")),
        selector_string(job_spec.get("selector")) or NONE,
    ]


_WIDE = (
    wide("Containers", "Names of each container in the template."),
    wide("Images", "Images referenced by each container in the template."),
    wide("Selector", "The label selector of the pods it manages."),
)

JOB_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Status", description="The Job's state: its terminal condition, or Running."),
        Column("Completions", description="Succeeded pods of the completions wanted."),
        Column("Duration", description="Time the Job took (or has run so far)."),
        AGE_COLUMN,
        *_WIDE,
    ),
    job_cells,
)

CRONJOB_PRINTER = Printer(
    (
        NAME_COLUMN,
        Column("Schedule", description="The cron schedule."),
        Column("Timezone", description="The time zone the schedule is read in."),
        Column("Suspend", "boolean", "Whether new runs are suspended."),
        Column("Active", "integer", "The number of running Jobs."),
        Column("Last Schedule", description="When a Job was last scheduled."),
        AGE_COLUMN,
        *_WIDE,
    ),
    cronjob_cells,
)
