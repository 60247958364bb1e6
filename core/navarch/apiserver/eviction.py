"""POST pods/<name>/eviction: the polite way to delete a pod (Kubernetes' EvictionREST),
which ``kubectl drain`` uses.

The body is a policy/v1 ``Eviction`` naming the pod, with optional ``deleteOptions``
(grace period, uid/resourceVersion preconditions, dry run) that the deletion honours.
An eviction is where a PodDisruptionBudget would refuse with 429 TooManyRequests
(``kubectl drain`` then waits and tries again); Navarch has no PodDisruptionBudgets
yet, so an eviction of an existing pod always goes ahead, as a deletion with its grace
period. Success is a Status with code 201, as Kubernetes answers.
"""

from __future__ import annotations

from typing import Any

import attrs
from aiohttp import web

from navarch.apiserver import errors, httpio
from navarch.apiserver.objects import WriteContext
from navarch.apiserver.requestinfo import RequestInfo
from navarch.apiserver.storage import Storage

GROUP, VERSION, KIND = "policy", "v1", "Eviction"
# The apiVersions kubectl has sent an Eviction as (policy/v1beta1 before 1.22).
_API_VERSIONS = ("policy/v1", "policy/v1beta1")


class EvictionREST:
    def __init__(self, storage: Storage):
        self.storage = storage

    async def create(self, request: web.Request, info: RequestInfo, ctx: WriteContext) -> Any:
        assert info.res is not None
        body = await httpio.read_json(request)
        if not isinstance(body, dict):
            raise errors.bad_request("the Eviction must be a JSON object")
        if body.get("kind", KIND) != KIND or body.get("apiVersion", "policy/v1") not in (
            _API_VERSIONS
        ):
            raise errors.bad_request(
                f"expected a policy/v1 Eviction, got {body.get('apiVersion')} {body.get('kind')}"
            )
        name = (body.get("metadata") or {}).get("name")
        if name not in (None, "", info.name):
            raise errors.bad_request(
                f"name in URL does not match name in Eviction object ({info.name} != {name})"
            )
        options = body.get("deleteOptions") or {}
        if not isinstance(options, dict):
            raise errors.bad_request("Eviction.deleteOptions must be an object")
        _check_options(options)
        if options.get("dryRun"):
            ctx = attrs.evolve(ctx, dry_run=True)
        # No PodDisruptionBudgets yet: nothing can refuse (429) an eviction.
        await self.storage.delete(info.res, info.namespace, info.name, options, ctx)
        return httpio.success_status(201)


def _check_options(options: dict[str, Any]) -> None:
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool) or grace < 0):
        raise errors.bad_request(
            f"deleteOptions.gracePeriodSeconds must be a non-negative integer, got {grace!r}"
        )
    preconditions = options.get("preconditions")
    if preconditions is not None and not isinstance(preconditions, dict):
        raise errors.bad_request("deleteOptions.preconditions must be an object")
    dry = options.get("dryRun")
    if dry is not None and (not isinstance(dry, list) or any(v != "All" for v in dry)):
        raise errors.bad_request(f'deleteOptions.dryRun {dry!r} is not supported; use ["All"]')
