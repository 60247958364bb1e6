"""Which Table a request asks for (its ``Accept`` header and ``includeObject``), and the
Table bodies and watch lines the request path writes for it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import orjson

from navarch.apiserver.errors import bad_request
from navarch.apiserver.printers.table import INCLUDE_OBJECT, TABLE_GROUP, TABLE_VERSIONS, table
from navarch.resources.spec import Resource

# --- content negotiation ------------------------------------------------------------------


def table_version(accept: str | None) -> str | None:
    """The Table version (``v1`` or ``v1beta1``) an ``Accept`` header asks for first, or
    None when it asks for no Table (a client that wants plain JSON)."""
    for media_range in (accept or "").split(","):
        kind, *params = (part.strip() for part in media_range.split(";"))
        if kind not in ("application/json", "*/*", "application/*"):
            continue
        values = dict(p.split("=", 1) for p in params if "=" in p)
        if "as" not in values:
            return None  # plain JSON comes before any Table the client would also take
        if (
            values.get("as") == "Table"
            and values.get("g") == TABLE_GROUP
            and values.get("v") in TABLE_VERSIONS
        ):
            return values["v"]
    return None


def wants_table(accept: str | None) -> bool:
    return table_version(accept) is not None


# --- what the request path calls ------------------------------------------------------------


@attrs.frozen
class TableRequest:
    """A get, list or watch that asked for Tables, and how (the request path's view)."""

    version: str  # of meta.k8s.io: v1 or v1beta1
    include_object: str  # None, Metadata or Object

    @classmethod
    def of(cls, accept: str | None, query: Mapping[str, str]) -> TableRequest | None:
        """The request's Table options, or None when it wants plain objects; a bad
        ``includeObject`` is a 400."""
        version = table_version(accept)
        if version is None:
            return None
        include = query.get("includeObject") or "Metadata"
        if include not in INCLUDE_OBJECT:
            raise bad_request(
                f"includeObject={include!r} is not one of {', '.join(INCLUDE_OBJECT)}"
            )
        return cls(version, include)

    @property
    def content_type(self) -> str:
        return f"application/json;as=Table;v={self.version};g={TABLE_GROUP}"

    def of_list(
        self, res: Resource, items: Iterable[bytes | dict[str, Any]], metadata: dict[str, Any]
    ) -> bytes:
        """A list's Table (items as stored bytes or dicts) as a response body."""
        objects = [orjson.loads(i) if isinstance(i, bytes) else i for i in items]
        return orjson.dumps(self._table(res, objects, list_metadata=metadata))

    def of_object(self, res: Resource, obj: dict[str, Any]) -> bytes:
        return orjson.dumps(self._table(res, [obj]))

    def of_body(self, res: Resource, body: bytes) -> bytes:
        """The Table of a get's or list's JSON response body (a list when it has items)."""
        parsed = orjson.loads(body)
        if isinstance(parsed.get("items"), list):
            return self.of_list(res, parsed["items"], parsed.get("metadata") or {})
        return self.of_object(res, parsed)

    def watch_writer(self, response: Any, res: Resource) -> TableWatchWriter:
        """What a watch writes its lines through instead of ``response``."""
        return TableWatchWriter(response, self.watch_lines(res))

    def watch_lines(self, res: Resource) -> Callable[[bytes], bytes]:
        """A converter of watch stream chunks (whole JSON lines): each event's object
        becomes a one-row Table, the first with the column definitions; ERROR events
        pass unchanged."""
        sent_headers = False

        def convert(chunk: bytes) -> bytes:
            nonlocal sent_headers
            out = []
            for line in chunk.split(b"\n"):
                if not line.strip():
                    continue
                event = orjson.loads(line)
                obj = event.get("object")
                if event.get("type") != "ERROR" and isinstance(obj, dict):
                    rows = [] if event.get("type") == "BOOKMARK" else [obj]
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    event["object"] = self._table(
                        res, rows, list_metadata={"resourceVersion": rv}, headers=not sent_headers
                    )
                    sent_headers = True
                out.append(orjson.dumps(event) + b"\n")
            return b"".join(out)

        return convert

    def _table(self, res: Resource, objects: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
        return table(
            res, objects, include_object=self.include_object, version=self.version, **kwargs
        )


class TableWatchWriter:
    """Writes watch lines to a response with each event's object made a Table."""

    def __init__(self, response: Any, convert: Callable[[bytes], bytes]):
        self._response, self._convert = response, convert

    async def write(self, data: bytes) -> None:
        await self._response.write(self._convert(data))
