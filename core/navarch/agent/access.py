"""Who may use the agent's streaming port: the API server decides. The agent holds no
token file; for each request it asks the API server, with the caller's own token,
whether that token may do it (a SelfSubjectAccessReview: ``get pods/log`` or
``create pods/exec`` on that namespace and pod, ``get nodes/metrics`` on this node
for its /metrics), as a kubelet with webhook authorisation does. Answers are cached
briefly so a burst of requests costs one review; a token is kept only as its SHA-256
digest.
"""

from __future__ import annotations

import hashlib
import time

import aiohttp
import attrs
from loguru import logger

from navarch.apiserver import errors
from navarch.client.kubeconfig import KubeConfig

REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
log = logger.bind(component="agent-access")


@attrs.frozen
class Verdict:
    status: int  # 200 allowed, 401 token unknown, 403 denied
    reason: str = ""


@attrs.define
class AccessChecker:
    api: KubeConfig
    ttl: float = 10.0
    _session: aiohttp.ClientSession | None = None
    _cache: dict[tuple[str, ...], tuple[float, Verdict]] = attrs.field(factory=dict)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def check(
        self,
        authorization: str | None,
        verb: str,
        subresource: str,
        namespace: str,
        name: str,
        *,
        resource: str = "pods",
    ) -> None:
        """Return when the caller may ``verb <resource>/<subresource>`` on the object
        (a pod; ``nodes`` and namespace "" for the node's /metrics); raise an
        :class:`~navarch.apiserver.errors.ApiError` (401, 403, 503) otherwise."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise errors.unauthorized()
        digest = hashlib.sha256(token.encode()).hexdigest()
        key = (digest, verb, resource, subresource, namespace, name)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            verdict = cached[1]
        else:
            verdict = await self._review(token, verb, resource, subresource, namespace, name)
            if len(self._cache) > 10_000:  # bounded: drop what has expired
                self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
            self._cache[key] = (now + self.ttl, verdict)
        if verdict.status == 401:
            raise errors.unauthorized()
        if verdict.status != 200:
            where = f' in the namespace "{namespace}"' if namespace else ""
            raise errors.ApiError(
                403,
                "Forbidden",
                f'{resource} "{name}" is forbidden: the token may not {verb} '
                f"{resource}/{subresource}{where}: {verdict.reason or 'denied'}",
                details={"name": name, "kind": resource},
            )

    async def _review(
        self, token: str, verb: str, resource: str, subresource: str, namespace: str, name: str
    ) -> Verdict:
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "namespace": namespace,
                    "verb": verb,
                    "group": "",
                    "resource": resource,
                    "subresource": subresource,
                    "name": name,
                }
            },
        }
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self._client().post(
                self.api.server + REVIEW_PATH, json=body, headers=headers
            ) as response:
                if response.status == 401:
                    return Verdict(401)
                answer = await response.json(content_type=None)
                if response.status not in (200, 201) or not isinstance(answer, dict):
                    raise errors.unavailable(
                        f"the API server at {self.api.server} answered the access review with "
                        f"HTTP {response.status}: {_message(answer)}"
                    )
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            log.bind(server=self.api.server, error=str(exc)).warning("access review failed")
            raise errors.unavailable(
                f"cannot ask the API server at {self.api.server} whether the caller may "
                f"{verb} {resource}/{subresource}: {exc or type(exc).__name__}"
            ) from None
        status = answer.get("status") or {}
        if status.get("allowed") is True:
            return Verdict(200)
        return Verdict(403, str(status.get("reason") or ""))

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            context = self.api.ssl_context()
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context if context is not None else False),
                timeout=aiohttp.ClientTimeout(total=15),
            )
        return self._session


def _message(answer: object) -> str:
    if isinstance(answer, dict):
        return str(answer.get("message") or answer)
    return str(answer)[:200]
