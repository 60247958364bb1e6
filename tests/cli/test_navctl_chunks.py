"""navctl get reads lists 500 objects at a time and follows continue, as kubectl's
--chunk-size=500 (issue 29 item 1): a large list is never asked for whole."""

from __future__ import annotations

from typing import Any

from navarch.cli.navctl.commands.get import CHUNK_SIZE, list_in_chunks


class PagedSession:
    """Answers a list in three pages, recording every query."""

    def __init__(self, field: str):
        self.field = field
        self.queries: list[dict[str, str]] = []

    async def request(self, method: str, path: str, *, params=None, headers=None) -> Any:
        self.queries.append(dict(params or {}))
        page = {"": 0, "t1": 1, "t2": 2}[(params or {}).get("continue", "")]
        metadata = {"resourceVersion": "42"}
        if page < 2:
            metadata["continue"] = f"t{page + 1}"
        return {"kind": "List", "metadata": metadata, self.field: [f"{page}a", f"{page}b"]}


async def test_a_list_is_read_in_chunks_following_continue():
    session = PagedSession("items")
    listed = await list_in_chunks(session, "/api/v1/pods", {"labelSelector": "app=web"})  # type: ignore[arg-type]
    assert listed["items"] == ["0a", "0b", "1a", "1b", "2a", "2b"]
    assert listed["metadata"] == {"resourceVersion": "42"}
    assert [q.get("continue") for q in session.queries] == [None, "t1", "t2"]
    assert all(q["limit"] == str(CHUNK_SIZE) == "500" for q in session.queries)
    assert all(q["labelSelector"] == "app=web" for q in session.queries)


async def test_a_table_is_read_in_chunks_too():
    session = PagedSession("rows")
    table = await list_in_chunks(session, "/api/v1/pods", {}, {"Accept": "table"})  # type: ignore[arg-type]
    assert table["rows"] == ["0a", "0b", "1a", "1b", "2a", "2b"]
