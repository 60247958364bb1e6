"""containerd's content store: blobs (layers, manifests, configs) by digest, read,
listed, deleted and written through the Write stream.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterable, Mapping
from typing import Any

import grpc

from navarch.runtime.errors import NotFound
from navarch_runtime_containerd._proto import containerd_subset_pb2 as pb
from navarch_runtime_containerd.connection import ContainerdConnection
from navarch_runtime_containerd.errors import ContainerdError
from navarch_runtime_containerd.records import ContentInfo

_CONTENT = "/containerd.services.content.v1.Content/"


class ContentCalls(ContainerdConnection):
    """The Content service."""

    async def content_info(self, digest: str) -> ContentInfo:
        response = await self._unary(
            _CONTENT + "Info",
            pb.ContentInfoRequest(digest=digest),
            pb.ContentInfoResponse,
            kind="content",
            ident=digest,
        )
        return _content_info(response.info)

    async def has_content(self, digest: str) -> bool:
        try:
            await self.content_info(digest)
        except NotFound:
            return False
        return True

    async def list_content(self) -> list[ContentInfo]:
        infos: list[ContentInfo] = []
        async for response in self._unary_stream(
            _CONTENT + "List", pb.ListContentRequest(), pb.ListContentResponse, "content", "*"
        ):
            infos.extend(_content_info(info) for info in response.info)
        return infos

    async def list_ingests(self) -> list[str]:
        """The refs of writes begun and neither committed nor aborted."""
        response = await self._unary(
            _CONTENT + "ListStatuses",
            pb.ListStatusesRequest(),
            pb.ListStatusesResponse,
            kind="ingest",
            ident="*",
        )
        return sorted(status.ref for status in response.statuses)

    async def read_content(self, digest: str, offset: int = 0, size: int = 0) -> bytes:
        """``size`` bytes of a blob from ``offset`` (0: to its end): containerd's ReaderAt."""
        parts = []
        async for response in self._unary_stream(
            _CONTENT + "Read",
            pb.ReadContentRequest(digest=digest, offset=offset, size=size),
            pb.ReadContentResponse,
            "content",
            digest,
        ):
            parts.append(response.data)
        return b"".join(parts)

    async def delete_content(self, digest: str) -> None:
        await self._unary(
            _CONTENT + "Delete",
            pb.DeleteContentRequest(digest=digest),
            pb.Empty,
            kind="content",
            ident=digest,
        )

    async def write_content(
        self,
        digest: str,
        size: int,
        chunks: AsyncIterable[bytes],
        *,
        labels: Mapping[str, str] | None = None,
        lease: str | None = None,
    ) -> None:
        """Write a blob: ``chunks`` must add up to ``size`` bytes hashing to ``digest``
        (containerd checks both at commit and refuses otherwise). Raises AlreadyExists
        when containerd holds the blob already. A failed write is aborted."""
        ref = f"navarch-{uuid.uuid4().hex}"
        call = self._channel_for().stream_stream(
            _CONTENT + "Write",
            request_serializer=pb.WriteContentRequest.SerializeToString,
            response_deserializer=pb.WriteContentResponse.FromString,
        )(timeout=self.transfer_timeout, metadata=self._metadata(lease))
        try:
            # The protocol: a STAT opens the write (with the size and digest to
            # expect), WRITEs carry the bytes at their offset, a COMMIT checks and
            # names the blob; containerd answers each request in turn. A request's
            # offset must be where the write stands (0 truncates the write).
            await call.write(
                pb.WriteContentRequest(action=pb.STAT, ref=ref, total=size, expected=digest)
            )
            await _answer(call)
            offset = 0
            async for chunk in chunks:
                await call.write(
                    pb.WriteContentRequest(action=pb.WRITE, ref=ref, offset=offset, data=chunk)
                )
                await _answer(call)
                offset += len(chunk)
            await call.write(
                pb.WriteContentRequest(
                    action=pb.COMMIT,
                    ref=ref,
                    total=size,
                    expected=digest,
                    # an offset of 0 would mean "start over": containerd truncates
                    offset=offset,
                    labels=labels or {},
                )
            )
            await _answer(call)
            await call.done_writing()
        except grpc.aio.AioRpcError as exc:
            await self._abort(ref, lease)
            raise self._error(exc, "content.Write", "content", digest) from None
        except BaseException:
            call.cancel()
            await self._abort(ref, lease)
            raise

    async def _abort(self, ref: str, lease: str | None) -> None:
        with contextlib.suppress(grpc.aio.AioRpcError):
            await self._call(_CONTENT + "Abort", pb.AbortRequest(ref=ref), pb.Empty, lease=lease)


async def _answer(call: Any) -> Any:
    response = await call.read()
    if response is grpc.aio.EOF:
        # containerd ended the stream early: the call's status says why
        code = await call.code()
        raise ContainerdError(
            f"containerd ended a content write early ({code.name}: {await call.details()})",
            code.name,
        )
    return response


def _content_info(raw: Any) -> ContentInfo:
    return ContentInfo(raw.digest, raw.size, dict(raw.labels))
