"""Jobs and CronJobs (batch/v1): how the API server serves them."""

from __future__ import annotations

from typing import Any

from navarch.api.batch_defaults import default_cronjob, default_job, generate_selector
from navarch.api.batch_v1 import CronJob, Job
from navarch.api.errors import FieldError
from navarch.api.validation.batch import validate_cronjob, validate_job, validate_job_update
from navarch.printers.batch import CRONJOB_PRINTER, JOB_PRINTER
from navarch.resources.spec import Resource
from navarch.resources.strategy import DELETE_DEPENDENTS, Obj, Strategy


class JobStrategy(Strategy):
    has_status = True
    tracks_generation = True
    # batch/v1's default is orphaning the pods (Kubernetes keeps it for compatibility:
    # kubectl delete sends Background); the garbage collector handles both
    garbage_collection = DELETE_DEPENDENTS
    initial_status: Obj = {}

    def default(self, obj: Obj) -> None:
        default_job(obj)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        generate_selector(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_job(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return validate_job_update(new, old)


class CronJobStrategy(Strategy):
    has_status = True
    tracks_generation = True
    garbage_collection = DELETE_DEPENDENTS
    initial_status: Obj = {}

    def default(self, obj: Obj) -> None:
        default_cronjob(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_cronjob(obj)


JOBS = Resource.for_model(
    Job,
    categories=("all",),
    subresources=("status",),
    strategy=JobStrategy(),
    printer=JOB_PRINTER,
    description="Job represents the configuration of a single job.",
)
CRONJOBS = Resource.for_model(
    CronJob,
    short_names=("cj",),
    categories=("all",),
    subresources=("status",),
    strategy=CronJobStrategy(),
    printer=CRONJOB_PRINTER,
    description="CronJob represents the configuration of a single cron job.",
)

RESOURCES: tuple[Resource, ...] = (CRONJOBS, JOBS)
