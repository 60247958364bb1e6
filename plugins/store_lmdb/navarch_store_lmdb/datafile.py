"""Refuse a damaged ``data.mdb`` before LMDB maps it: read only, never changed.

LMDB maps the file and trusts it. Two kinds of damage it cannot report:

* a file cut short (a bad copy, a full disk, a damaged filesystem): LMDB maps it, and
  the first read of a page past the end kills the process with SIGBUS — no message;
* a 0-byte file: LMDB takes it for a new environment and initialises it, so the
  cluster's state would be silently replaced by an empty store.

The check reads the two meta pages (LMDB's header). Each names the last page in use
(``mm_last_pg``) and the page size; the newer one (higher transaction id) is what
LMDB will use. When the file holds every page up to the last, it is whole — the
common case, one read of 8 KiB. A file can legitimately be a little shorter: LMDB
does not write pages it allocated and freed again in the same transaction, yet counts
them. So when the file is shorter, the check walks every page LMDB can reach from the
newer meta's roots (the free list and the main tree with its named databases and
overflow pages) and refuses the file only if one of them lies past its end.

File format facts used (LMDB 0.9, 64-bit, native byte order), all offsets in bytes:

* page header (16): page number u64, pad u16, flags u16, lower u16, upper u16 (an
  overflow page keeps its page count as u32 at 12);
* meta, at 16 in pages 0 and 1: magic u32 (0xBEEFC0DE), version u32, address u64,
  map size u64, two database records of 48 (free list, main tree), last page u64
  at 120, transaction id u64 at 128; the free list's record keeps the page size in
  its first u32;
* database record (48): pad u32, flags u16, depth u16, branch/leaf/overflow page
  counts and entries (4 x u64), root page u64 at 40 (all ones: empty);
* a tree page lists its nodes' offsets (u16 each) from 16 up to ``lower``; a node is
  lo u16, hi u16, flags u16, key size u16, then the key, then the data. In a branch
  node the child page is lo | hi << 16 | flags << 32; in a leaf node flag 0x01 means
  the data is an overflow page number (u64) and 0x02 that it is a database record.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from loguru import logger

from navarch.store.errors import Corrupt

log = logger.bind(component="store-lmdb")

_MAGIC = 0xBEEFC0DE
_DATA_VERSION = 1
_PAGE_HEADER = 16
_META_SIZE = 136
_NO_PAGE = (1 << 64) - 1
_BRANCH, _LEAF, _LEAF2 = 0x01, 0x02, 0x20
_BIG_DATA, _SUB_DATA = 0x01, 0x02


class _Meta:
    def __init__(self, raw: bytes):
        self.magic, self.version = struct.unpack_from("=II", raw, 0)
        (self.page_size,) = struct.unpack_from("=I", raw, 24)
        (self.free_root,) = struct.unpack_from("=Q", raw, 24 + 40)
        (self.main_root,) = struct.unpack_from("=Q", raw, 24 + 48 + 40)
        self.last_page, self.txnid = struct.unpack_from("=QQ", raw, 120)


def check_data_file(path: Path) -> None:
    """Raise Corrupt, naming ``path`` and what to do, when LMDB must not open it.

    A missing file is fine (a new store); so is anything this check does not
    understand (another LMDB version, a 32-bit file): LMDB then reports it itself.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            raise Corrupt(
                f"{path} is empty (0 bytes), so it is damaged: Navarch never starts an empty "
                "store over it. It was left untouched. Restore it from a backup; only if "
                "this data directory never held data (an interrupted first start) delete it "
                "to start an empty store"
            )
        first = _read_meta(fd, path, 0, size)
        if first is None:
            return
        second = _read_meta(fd, path, first.page_size, size)
        if second is None:
            return
        meta = max(first, second, key=lambda m: m.txnid)
        _check_pages(fd, path, size, meta)
    finally:
        os.close(fd)


def _read_meta(fd: int, path: Path, page_offset: int, size: int) -> _Meta | None:
    """The meta page at ``page_offset``; None when it is not in the format read here."""
    if struct.calcsize("P") != 8:
        return None
    raw = os.pread(fd, _META_SIZE, page_offset + _PAGE_HEADER)
    if len(raw) < _META_SIZE:
        raise _truncated(path, size, f"its header (meta page at byte {page_offset})")
    meta = _Meta(raw)
    if meta.magic != _MAGIC:
        raise Corrupt(
            f"{path} is damaged or not an LMDB file (no LMDB header at byte {page_offset}); "
            "it was left untouched. Restore it from a backup or move it away to start an "
            "empty store"
        )
    if meta.version != _DATA_VERSION or meta.page_size < 512 or meta.page_size & 511:
        return None
    return meta


def _check_pages(fd: int, path: Path, size: int, meta: _Meta) -> None:
    whole_pages = size // meta.page_size
    if meta.last_page < whole_pages:
        return  # every page the header counts is in the file
    log.bind(path=str(path), size=size, last_page=meta.last_page).info(
        "data file is shorter than its header says; checking the pages in use"
    )
    missing = _first_missing_page(fd, path, whole_pages, meta)
    if missing is not None:
        needed = f"page {missing}, so at least {(missing + 1) * meta.page_size} bytes"
        raise _truncated(path, size, needed)


def _first_missing_page(fd: int, path: Path, whole_pages: int, meta: _Meta) -> int | None:
    """The first page reachable from ``meta``'s roots that is not wholly in the file."""
    page_size = meta.page_size
    pending = [root for root in (meta.free_root, meta.main_root) if root != _NO_PAGE]
    seen: set[int] = set()
    while pending:
        number = pending.pop()
        if number in seen:
            continue
        seen.add(number)
        if number >= whole_pages:
            return number
        page = os.pread(fd, page_size, number * page_size)
        try:
            _, _, flags, lower, _ = struct.unpack_from("=QHHHH", page, 0)
            if flags & _LEAF2:
                continue  # fixed-size keys only: nothing further to reach
            if not flags & (_BRANCH | _LEAF) or not _PAGE_HEADER <= lower <= page_size:
                raise _damaged(path, number)
            count = (lower - _PAGE_HEADER) // 2
            for offset in struct.unpack_from(f"={count}H", page, _PAGE_HEADER):
                lo, hi, node_flags, key_size = struct.unpack_from("=HHHH", page, offset)
                if flags & _BRANCH:
                    pending.append(lo | hi << 16 | node_flags << 32)
                    continue
                data = offset + 8 + key_size
                if node_flags & _BIG_DATA:
                    (first,) = struct.unpack_from("=Q", page, data)
                    if first >= whole_pages:
                        return first
                    header = os.pread(fd, _PAGE_HEADER, first * page_size)
                    (pages,) = struct.unpack_from("=I", header, 12)
                    if first + pages > whole_pages:
                        return whole_pages
                elif node_flags & _SUB_DATA:
                    (root,) = struct.unpack_from("=Q", page, data + 40)
                    if root != _NO_PAGE:
                        pending.append(root)
        except struct.error:
            raise _damaged(path, number) from None
    return None


def _truncated(path: Path, size: int, needed: str) -> Corrupt:
    return Corrupt(
        f"{path} is truncated: it has {size} bytes but the store needs {needed}; it was "
        "left untouched. Restore it from a backup (a copy taken while the server ran, or "
        "a full disk, can cut a file short), or move it away to start an empty store"
    )


def _damaged(path: Path, page: int) -> Corrupt:
    return Corrupt(
        f"{path} is damaged (page {page} is not a tree page); it was left untouched. "
        "Restore it from a backup or move it away to start an empty store"
    )
