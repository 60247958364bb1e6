"""A client of the OCI distribution API (what a registry speaks), for pulls: a
manifest by tag or digest, a blob by digest, each checked against its digest, with
the registry's own authentication.

Authentication follows the challenge a registry answers with (``401`` and a
``WWW-Authenticate`` header), as Docker and containerd do:

* no challenge: anonymous;
* ``Basic realm=…``: the user and password, sent on every request from then on;
* ``Bearer realm=…,service=…,scope=…``: a token from the realm (a GET with
  ``service`` and ``scope``, the user and password as Basic when given; or, with an
  identity token, the OAuth2 refresh-token POST), whose answer carries ``token`` or
  ``access_token``; the token then goes on every request as ``Bearer``.

Credentials never travel over plain HTTP except to this machine: a realm on another
host must be HTTPS.

Failures raise :class:`RegistryError` whose ``reason`` is what a user reads in the
pod's status: the registry's own words where it gave some (``unauthorized:
authentication required``, ``manifest unknown``), else what went wrong and where.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import ssl
from collections.abc import AsyncGenerator, Mapping
from typing import Any, Self

import aiohttp
import attrs
from yarl import URL

from navarch.api.imageref import is_loopback_registry
from navarch.runtime.registries import PullSource
from navarch.runtime.types import RegistryAuth
from navarch_runtime_containerd.connection import CHUNK_SIZE
from navarch_runtime_containerd.reference import ImageReference

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST})
MANIFEST_TYPES = frozenset({MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST})
_ACCEPT = ", ".join([MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST, MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST])

# A manifest or index is a small JSON document; a larger answer is not one.
MAX_MANIFEST_SIZE = 4 << 20
CONNECT_TIMEOUT = 10.0
# The longest silence tolerated while reading an answer (not the whole transfer's).
READ_TIMEOUT = 60.0

_PARAM = re.compile(r'([A-Za-z][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


class RegistryError(Exception):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@attrs.frozen
class Manifest:
    """A manifest or index as fetched: its media type, bytes and (verified) digest."""

    media_type: str
    data: bytes
    digest: str


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


class Registry:
    """One repository of one registry, for one pull (its session and its token).

    ``async with Registry(reference, auth) as registry: await registry.manifest(tag)``
    """

    def __init__(
        self,
        reference: ImageReference,
        auth: RegistryAuth | None = None,
        *,
        source: PullSource | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
    ):
        self.reference = reference
        self.auth = auth
        # A mirror (registries.py) serves the repository under its own address, perhaps
        # renamed; the image keeps the name the reference gives it.
        self._source = source
        self._base = source.base_url if source else reference.base_url
        self.repository = source.repository if source else reference.repository
        self.where = source.host if source else reference.registry
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=connect_timeout, sock_read=read_timeout
        )
        self._read_timeout = read_timeout
        self._authorization: str | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        # Proxies from the environment only for remote registries: loopback is local.
        loopback = is_loopback_registry(URL(self._base).host or "")
        self._session = aiohttp.ClientSession(
            timeout=self._timeout,
            trust_env=not loopback,
            connector=aiohttp.TCPConnector(ssl=_tls(self._source)),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    # --- manifests and blobs -------------------------------------------------------------

    async def manifest(self, reference: str, expected: str = "") -> Manifest:
        """The manifest (or index) ``reference`` names (a tag or a digest), checked
        against ``expected`` (or, asked by tag, the digest the registry announces)."""
        path = f"/v2/{self.repository}/manifests/{reference}"
        response = await self._get(path, "manifest", {"Accept": _ACCEPT})
        try:
            if (response.content_length or 0) > MAX_MANIFEST_SIZE:
                raise RegistryError(f"manifest {reference} is larger than {MAX_MANIFEST_SIZE}")
            data = await self._read(response)
            announced = response.headers.get("Docker-Content-Digest", "")
            content_type = response.headers.get("Content-Type", "").partition(";")[0].strip()
        finally:
            response.release()
        if len(data) > MAX_MANIFEST_SIZE:
            raise RegistryError(f"manifest {reference} is larger than {MAX_MANIFEST_SIZE} bytes")
        wanted = expected or (reference if reference.count(":") == 1 else "") or announced
        algorithm = wanted.partition(":")[0] if wanted else "sha256"
        actual = digest_of(data, algorithm)
        for claimed in {wanted, announced} - {""}:
            if claimed.startswith(f"{algorithm}:") and claimed != actual:
                raise RegistryError(
                    f"manifest {reference} from {self.where} hashes to {actual}, "
                    f"not {claimed}: corrupt or tampered with, not kept"
                )
        return Manifest(content_type, data, actual)

    async def blob_bytes(self, digest: str, size: int) -> bytes:
        return b"".join([chunk async for chunk in self.blob(digest, size)])

    async def blob(self, digest: str, size: int) -> AsyncGenerator[bytes, None]:
        """The blob's bytes in chunks of up to CHUNK_SIZE. Raises RegistryError, before
        the iteration ends, when they do not add up to ``size`` bytes hashing to
        ``digest``: a content write fed from it is aborted, never committed."""
        response = await self._get(f"/v2/{self.repository}/blobs/{digest}", "blob")
        hasher = hashlib.new(digest.partition(":")[0])
        received = 0
        buffer = bytearray()
        try:
            while True:
                try:
                    data = await response.content.readany()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise self._transport_error(exc, f"reading blob {digest}") from exc
                if not data:
                    break
                hasher.update(data)
                received += len(data)
                if received > size:
                    raise RegistryError(f"blob {digest} is longer than its {size} bytes")
                buffer += data
                while len(buffer) >= CHUNK_SIZE:
                    yield bytes(buffer[:CHUNK_SIZE])
                    del buffer[:CHUNK_SIZE]
            self._check_blob(digest, size, received, hasher)
            if buffer:
                yield bytes(buffer)
        finally:
            response.release()

    def _check_blob(self, digest: str, size: int, received: int, hasher: Any) -> None:
        actual = f"{hasher.name}:{hasher.hexdigest()}"
        where = f"blob {digest} from {self.where}"
        if received != size:
            raise RegistryError(
                f"{where} ended after {received} of its {size} bytes: truncated, not kept"
            )
        if actual != digest:
            raise RegistryError(f"{where} hashes to {actual}: corrupt or tampered with, not kept")

    # --- requests, authentication and errors ---------------------------------------------

    async def _get(
        self, path: str, what: str, headers: Mapping[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        """An answered GET (2xx), authenticating when challenged; the caller
        releases the response."""
        assert self._session is not None, "use Registry in an async with block"
        for attempt in range(2):
            sent = dict(headers or {})
            if self._authorization:
                sent["Authorization"] = self._authorization
            try:
                response = await self._session.get(self._base + path, headers=sent)
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise self._transport_error(exc, f"GET {path}") from exc
            if response.status < 400:
                return response
            body = await self._body(response)
            if response.status == 401 and attempt == 0:
                challenge = response.headers.get("WWW-Authenticate", "")
                if await self._answer_challenge(challenge):
                    continue
            raise RegistryError(self._status_reason(response, body, what, path))
        raise AssertionError("unreachable")

    async def _answer_challenge(self, challenge: str) -> bool:
        """Set the Authorization the challenge asks for; False when there is nothing
        to answer it with."""
        scheme, _, rest = challenge.strip().partition(" ")
        params = {m[0].lower(): m[1] or m[2] for m in _PARAM.findall(rest)}
        auth = self.auth or RegistryAuth()
        if scheme.lower() == "basic":
            if not auth.username:
                return False
            self._authorization = _basic(auth)
            return True
        if scheme.lower() == "bearer" and params.get("realm"):
            self._authorization = f"Bearer {await self._token(params, auth)}"
            return True
        return False

    async def _token(self, params: Mapping[str, str], auth: RegistryAuth) -> str:
        assert self._session is not None
        realm = URL(params["realm"])
        if realm.scheme != "https" and not is_loopback_registry(realm.host or ""):
            raise RegistryError(
                f"the registry's token service {realm} is not HTTPS: credentials are only "
                "sent over plain HTTP to this machine"
            )
        scope = params.get("scope") or f"repository:{self.repository}:pull"
        query = {"scope": scope, **({"service": params["service"]} if "service" in params else {})}
        try:
            if auth.identity_token:  # OAuth2: the identity token is a refresh token
                form = {
                    **query,
                    "grant_type": "refresh_token",
                    "refresh_token": auth.identity_token,
                    "client_id": "navarch",
                }
                call = self._session.post(realm, data=form)
            else:
                headers = {"Authorization": _basic(auth)} if auth.username else {}
                call = self._session.get(realm.update_query(query), headers=headers)
            async with call as response:
                body = await self._read(response)
                if response.status >= 400:
                    raise RegistryError(
                        self._status_reason(response, body, "token", str(realm), realm=True)
                    )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error(exc, f"asking {realm} for a token") from exc
        try:
            answer = _json(body)
            token = answer.get("token") or answer.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"the token service {realm} answered without a token")
        return token

    async def _read(self, response: aiohttp.ClientResponse) -> bytes:
        try:
            return await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise self._transport_error(exc, f"reading {response.url.path}") from exc

    async def _body(self, response: aiohttp.ClientResponse) -> bytes:
        try:
            return await response.content.read(64 << 10)
        except (aiohttp.ClientError, TimeoutError):
            return b""
        finally:
            response.release()

    def _status_reason(
        self,
        response: aiohttp.ClientResponse,
        body: bytes,
        what: str,
        path: str,
        *,
        realm: bool = False,
    ) -> str:
        said = _registry_messages(body)
        registry = self.where
        if response.status == 401:
            given = bool(self.auth and (self.auth.username or self.auth.identity_token))
            unless = "" if given else "; no credentials were given"
            if realm:
                return f"unauthorized: the token service refused ({said}){unless}"
            return f"unauthorized: {said or 'authentication required'}{unless}"
        if response.status == 403:
            return f"denied: {said or 'access to the repository is denied'}"
        if response.status == 404 and what == "manifest":
            # the distribution API's MANIFEST_UNKNOWN; a missing repository says
            # NAME_UNKNOWN, but for a pull both mean the same: no such manifest
            if said.startswith("manifest unknown"):
                return said
            return f"manifest unknown: {said or self.reference.manifest_reference}"
        if response.status == 404 and what == "blob":
            return f"blob unknown: {path.rpartition('/')[2]} is not in {registry}"
        detail = f": {said}" if said else ""
        return f"{registry} answered {response.status} {response.reason} to GET {path}{detail}"

    def _transport_error(self, exc: BaseException, doing: str) -> RegistryError:
        registry = self.where
        scheme = URL(self._base).scheme
        if isinstance(exc, aiohttp.ClientConnectorError):
            refused = isinstance(exc.os_error, ConnectionRefusedError)
            why = "connection refused" if refused else str(exc.os_error) or str(exc)
            return RegistryError(
                f"cannot connect to registry {registry} over {scheme} ({why}); is the "
                "registry running and is its address right?"
            )
        if isinstance(exc, TimeoutError):
            return RegistryError(
                f"registry {registry} did not answer within {self._read_timeout:g}s ({doing})"
            )
        return RegistryError(f"registry {registry} failed while {doing}: {exc}")


def _tls(source: PullSource | None) -> ssl.SSLContext | bool:
    """The TLS settings a registries.yaml gives the host: its own CA, or no check at
    all (``insecure_skip_verify``); the system's trust otherwise."""
    if source is None or not (source.ca_file or source.insecure_skip_verify):
        return True
    if source.insecure_skip_verify:
        return False
    return ssl.create_default_context(cafile=source.ca_file)


def _basic(auth: RegistryAuth) -> str:
    credentials = base64.b64encode(f"{auth.username}:{auth.password}".encode()).decode()
    return f"Basic {credentials}"


def _json(body: bytes) -> Any:
    return json.loads(body)


def _registry_messages(body: bytes) -> str:
    """The messages of the distribution API's error body
    (``{"errors": [{"code": …, "message": …}]}``), or the start of a plain one."""
    try:
        errors = _json(body).get("errors") or []
        messages = [str(error.get("message") or error.get("code")) for error in errors]
    except (ValueError, AttributeError, TypeError):
        return body[:200].decode(errors="replace").strip()
    return "; ".join(message for message in messages if message)
