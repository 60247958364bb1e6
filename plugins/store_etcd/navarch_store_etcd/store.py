"""The store contract on a real etcd v3 cluster, over gRPC (grpcio's asyncio API).

Mapping, one to one:

* get / range          -> KV.Range (``revision`` for reads in the past)
* create               -> KV.Txn: if create_revision(key) == 0 then Put else Range
* update (CAS)         -> KV.Txn: if mod_revision(key) == expected then Put else Range
* delete (conditional) -> KV.Txn: if mod_revision(key) == expected then DeleteRange else Range
* watch                -> Watch.Watch with prev_kv, re-created from the next revision
                          after any disconnect (so a restart of etcd loses no event)
* compact              -> KV.Compact (physical)

Every request has a deadline: during an outage writes fail with Unavailable at once
or after ``timeout_seconds``, never hang. Reads try every endpoint; writes are not
retried (a write whose answer was lost may have happened; the caller decides).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Any, cast

import grpc
from google.protobuf.message import Message
from loguru import logger

from navarch.store.contract import (
    DELETE,
    PUT,
    Event,
    KeyValue,
    RangeResult,
    Store,
    check_key,
    check_value,
    prefix_end,
)
from navarch.store.errors import (
    AlreadyExists,
    Compacted,
    Conflict,
    InvalidArgument,
    NotFound,
    StoreError,
    TooLarge,
    Unavailable,
)
from navarch_store_etcd._proto import etcd_subset_pb2 as pb
from navarch_store_etcd.options import EtcdOptions

log = logger.bind(component="store-etcd")

_CHANNEL_OPTIONS = [
    # Reconnect quickly after an etcd restart (gRPC's default starts at 1 s).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2000),
    ("grpc.max_receive_message_length", 64 << 20),
    ("grpc.max_send_message_length", 64 << 20),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
]
_RETRYABLE = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}
_METHODS: dict[str, tuple[str, type[Message], type[Message]]] = {
    "Range": ("/etcdserverpb.KV/Range", pb.RangeRequest, pb.RangeResponse),
    "Txn": ("/etcdserverpb.KV/Txn", pb.TxnRequest, pb.TxnResponse),
    "Compact": ("/etcdserverpb.KV/Compact", pb.CompactionRequest, pb.CompactionResponse),
    "Status": ("/etcdserverpb.Maintenance/Status", pb.StatusRequest, pb.StatusResponse),
    "Authenticate": (
        "/etcdserverpb.Auth/Authenticate",
        pb.AuthenticateRequest,
        pb.AuthenticateResponse,
    ),
}


class EtcdStore(Store):
    """Open with :meth:`open`; no connection is made until the first call."""

    def __init__(self, options: EtcdOptions):
        self.options = options
        self._prefix = options.prefix.encode()
        self._channels: list[grpc.aio.Channel | None] = [None] * len(options.endpoints)
        self._active = 0
        self._token: str | None = None
        self._closed = False

    @classmethod
    def open(cls, options: EtcdOptions) -> EtcdStore:
        return cls(options)

    # --- reads -----------------------------------------------------------------------

    async def get(self, key: bytes) -> KeyValue:
        check_key(key)
        response = await self._call("Range", pb.RangeRequest(key=self._full(key)), idempotent=True)
        if not response.kvs:
            raise NotFound(key)
        return self._kv(response.kvs[0])

    async def range(
        self,
        prefix: bytes,
        *,
        limit: int = 0,
        continue_from: bytes | None = None,
        revision: int | None = None,
    ) -> RangeResult:
        if not isinstance(prefix, bytes):
            raise InvalidArgument(f"prefix must be bytes, got {type(prefix).__name__}")
        if limit < 0:
            raise InvalidArgument(f"limit must be >= 0, got {limit}")
        start = max(prefix, continue_from) if continue_from else prefix
        request = pb.RangeRequest(
            key=self._full(start),
            range_end=self._end(prefix),
            limit=limit + 1 if limit else 0,
            revision=revision or 0,
        )
        response = await self._call("Range", request, idempotent=True, revision=revision)
        items = tuple(self._kv(kv) for kv in response.kvs)
        read_at = revision or response.header.revision  # etcd's header carries "now"
        if limit and len(items) > limit:
            return RangeResult(items[:limit], read_at, True, items[limit].key)
        return RangeResult(items, read_at)

    async def current_revision(self) -> int:
        request = pb.RangeRequest(key=self._prefix or b"\0", limit=1, keys_only=True)
        return (await self._call("Range", request, idempotent=True)).header.revision

    async def server_version(self) -> str:
        """etcd's version, from Maintenance.Status (for logs and the benchmark)."""
        return (await self._call("Status", pb.StatusRequest(), idempotent=True)).version

    # --- writes ----------------------------------------------------------------------

    async def create(self, key: bytes, value: bytes) -> int:
        check_key(key)
        check_value(key, value, self.options.max_value_bytes)
        full = self._full(key)
        response = await self._txn(
            pb.Compare(
                key=full, target=pb.Compare.CREATE, result=pb.Compare.EQUAL, create_revision=0
            ),
            pb.RequestOp(request_put=pb.PutRequest(key=full, value=value)),
        )
        if not response.succeeded:
            current = response.responses[0].response_range.kvs
            raise AlreadyExists(key, current[0].mod_revision if current else 0)
        return response.header.revision

    async def update(self, key: bytes, value: bytes, expected_revision: int | None) -> int:
        check_key(key)
        check_value(key, value, self.options.max_value_bytes)
        full = self._full(key)
        response = await self._txn(
            self._guard(full, expected_revision),
            pb.RequestOp(request_put=pb.PutRequest(key=full, value=value)),
        )
        if not response.succeeded:
            self._raise_guard_failure(key, expected_revision, response)
        return response.header.revision

    async def delete(self, key: bytes, expected_revision: int | None = None) -> KeyValue:
        check_key(key)
        full = self._full(key)
        response = await self._txn(
            self._guard(full, expected_revision),
            pb.RequestOp(request_delete_range=pb.DeleteRangeRequest(key=full, prev_kv=True)),
        )
        if not response.succeeded:
            self._raise_guard_failure(key, expected_revision, response)
        deleted = response.responses[0].response_delete_range.prev_kvs
        if not deleted:  # removed between the compare and the delete: cannot happen in one txn
            raise NotFound(key)
        previous = self._kv(deleted[0])
        return KeyValue(
            previous.key,
            previous.value,
            previous.create_revision,
            response.header.revision,
            previous.version,
        )

    async def compact(self, revision: int) -> None:
        # Compacted means etcd is already compacted at or beyond it: nothing to do.
        with contextlib.suppress(Compacted):
            await self._call(
                "Compact", pb.CompactionRequest(revision=revision, physical=True), idempotent=True
            )

    def _guard(self, full: bytes, expected: int | None) -> pb.Compare:
        if expected is None:  # the key must exist
            return pb.Compare(
                key=full, target=pb.Compare.CREATE, result=pb.Compare.GREATER, create_revision=0
            )
        return pb.Compare(
            key=full, target=pb.Compare.MOD, result=pb.Compare.EQUAL, mod_revision=expected
        )

    async def _txn(self, compare: pb.Compare, success: pb.RequestOp) -> pb.TxnResponse:
        failure = pb.RequestOp(request_range=pb.RangeRequest(key=compare.key))
        request = pb.TxnRequest(compare=[compare], success=[success], failure=[failure])
        return await self._call("Txn", request, idempotent=False)

    def _raise_guard_failure(
        self, key: bytes, expected: int | None, response: pb.TxnResponse
    ) -> None:
        current = response.responses[0].response_range.kvs
        if not current:
            raise NotFound(key)
        raise Conflict(key, expected or 0, current=self._kv(current[0]))

    # --- watch -----------------------------------------------------------------------

    async def watch(self, prefix: bytes, from_revision: int = 0) -> AsyncGenerator[Event, None]:
        if not isinstance(prefix, bytes):
            raise InvalidArgument(f"prefix must be bytes, got {type(prefix).__name__}")
        next_revision = from_revision if from_revision > 0 else await self.current_revision() + 1
        backoff = 0.1
        while True:
            self._check_open()
            channel = self._channel(self._active)
            stream = channel.stream_stream(
                "/etcdserverpb.Watch/Watch",
                request_serializer=pb.WatchRequest.SerializeToString,
                response_deserializer=pb.WatchResponse.FromString,
            )
            call = stream(metadata=self._metadata())
            try:
                create = pb.WatchCreateRequest(
                    key=self._full(prefix),
                    range_end=self._end(prefix),
                    start_revision=next_revision,
                    prev_kv=True,
                )
                await call.write(pb.WatchRequest(create_request=create))
                while True:
                    response = await call.read()
                    if response is grpc.aio.EOF:
                        break
                    # read() is typed ``object``: the EOF sentinel or a deserialised message
                    response = cast(pb.WatchResponse, response)
                    if response.compact_revision:
                        raise Compacted(next_revision, response.compact_revision)
                    if response.canceled:
                        raise Unavailable(f"etcd cancelled the watch: {response.cancel_reason}")
                    backoff = 0.1
                    for raw in response.events:
                        event = self._event(raw)
                        if event.revision >= next_revision:
                            next_revision = event.revision + 1
                            yield event
            except grpc.aio.AioRpcError as exc:
                if exc.code() not in _RETRYABLE | {
                    grpc.StatusCode.CANCELLED,
                    grpc.StatusCode.UNKNOWN,
                    grpc.StatusCode.INTERNAL,
                }:
                    raise self._error(exc, next_revision) from None
                log.bind(
                    endpoint=self._endpoint(), revision=next_revision, code=exc.code().name
                ).warning("watch stream lost; resuming")
            finally:
                call.cancel()
            self._rotate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    # --- lifecycle ---------------------------------------------------------------------

    async def close(self) -> None:
        self._closed = True
        for channel in self._channels:
            if channel is not None:
                await channel.close()
        self._channels = [None] * len(self._channels)

    # --- plumbing ----------------------------------------------------------------------

    async def _call(
        self, method: str, request: Any, *, idempotent: bool, revision: int | None = None
    ) -> Any:
        self._check_open()
        path, request_type, response_type = _METHODS[method]
        attempts = len(self._channels) if idempotent else 1
        last_error: StoreError | None = None
        for _ in range(attempts):
            stub = self._channel(self._active).unary_unary(
                path,
                request_serializer=request_type.SerializeToString,
                response_deserializer=response_type.FromString,
            )
            try:
                return await self._authenticated(stub, request)
            except grpc.aio.AioRpcError as exc:
                last_error = self._error(exc, revision)
                if exc.code() not in _RETRYABLE:
                    raise last_error from None
                self._rotate()
        assert last_error is not None
        raise last_error

    async def _authenticated(self, stub: Callable[..., Any], request: Any) -> Any:
        if self.options.username and self._token is None:
            await self._authenticate()
        try:
            return await stub(
                request, timeout=self.options.timeout_seconds, metadata=self._metadata()
            )
        except grpc.aio.AioRpcError as exc:
            if self.options.username and "invalid auth token" in (exc.details() or ""):
                await self._authenticate()
                return await stub(
                    request, timeout=self.options.timeout_seconds, metadata=self._metadata()
                )
            raise

    async def _authenticate(self) -> None:
        path, _, _ = _METHODS["Authenticate"]
        stub = self._channel(self._active).unary_unary(
            path,
            request_serializer=pb.AuthenticateRequest.SerializeToString,
            response_deserializer=pb.AuthenticateResponse.FromString,
        )
        request = pb.AuthenticateRequest(name=self.options.username, password=self.options.password)
        try:
            response = await stub(request, timeout=self.options.timeout_seconds)
        except grpc.aio.AioRpcError as exc:
            raise Unavailable(
                f"etcd at {self._endpoint()}: authentication failed: {exc.details()}"
            ) from None
        self._token = response.token

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        return (("token", self._token),) if self._token else ()

    def _channel(self, index: int) -> grpc.aio.Channel:
        channel = self._channels[index]
        if channel is None:
            target = self.options.endpoints[index]
            if self.options.ca_file or self.options.cert_file:
                credentials = grpc.ssl_channel_credentials(
                    root_certificates=_read(self.options.ca_file),
                    private_key=_read(self.options.key_file),
                    certificate_chain=_read(self.options.cert_file),
                )
                channel = grpc.aio.secure_channel(target, credentials, options=_CHANNEL_OPTIONS)
            else:
                channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
            self._channels[index] = channel
        return channel

    def _rotate(self) -> None:
        self._active = (self._active + 1) % len(self._channels)

    def _endpoint(self) -> str:
        return self.options.endpoints[self._active]

    def _check_open(self) -> None:
        if self._closed:
            raise Unavailable("etcd store is closed")

    def _full(self, key: bytes) -> bytes:
        return self._prefix + key

    def _end(self, prefix: bytes) -> bytes:
        end = prefix_end(self._prefix + prefix)
        return end or b"\0"  # etcd: "\0" means "to the end of the keyspace"

    def _kv(self, raw: pb.KeyValue) -> KeyValue:
        return KeyValue(
            raw.key[len(self._prefix) :],
            raw.value,
            raw.create_revision,
            raw.mod_revision,
            raw.version,
        )

    def _event(self, raw: pb.Event) -> Event:
        kind = DELETE if raw.type == pb.Event.DELETE else PUT
        prev = self._kv(raw.prev_kv) if raw.HasField("prev_kv") else None
        return Event(kind, self._kv(raw.kv), prev)

    def _error(self, exc: grpc.aio.AioRpcError, revision: int | None) -> StoreError:
        details = exc.details() or ""
        if "required revision has been compacted" in details:
            return Compacted(revision or 0, None)
        if "future revision" in details:
            return InvalidArgument(f"revision {revision} is in the future")
        if "request is too large" in details:
            return TooLarge(b"", 0, self.options.max_value_bytes)
        if exc.code() in _RETRYABLE:
            return Unavailable(
                f"etcd at {self._endpoint()} is unavailable ({exc.code().name}: {details}); "
                "nothing was changed unless the write's answer was lost; retry later"
            )
        return Unavailable(f"etcd at {self._endpoint()} failed: {exc.code().name}: {details}")


def _read(path: str | None) -> bytes | None:
    return Path(path).read_bytes() if path else None
