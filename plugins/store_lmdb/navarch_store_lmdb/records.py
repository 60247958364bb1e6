"""Binary layouts of what the LMDB store keeps.

Three named databases in one environment:

* ``kv``:   key -> current value record ``<create_rev:u64><mod_rev:u64><version:u64>value``
* ``log``:  revision (u64 big-endian, so LMDB's byte order is revision order) -> one
  change: type, commit time, the new KeyValue and the previous one (watch replay needs
  both, and reads at a past revision undo changes with the previous one).
* ``meta``: ``format``, ``revision`` (last write), ``compacted`` (oldest readable).
"""

from __future__ import annotations

import struct

from navarch.store.contract import DELETE, PUT, Event, KeyValue

FORMAT = b"navarch-lmdb/1"
META_FORMAT, META_REVISION, META_COMPACTED = b"format", b"revision", b"compacted"

_KV = struct.Struct("<QQQ")
_U64 = struct.Struct(">Q")
# type, time, key length, value length, create rev, version,
# has prev, prev create rev, prev mod rev, prev version, prev value length
_LOG = struct.Struct("<BdIIQQBQQQI")
_TYPES = {PUT: 0, DELETE: 1}
_NAMES = {0: PUT, 1: DELETE}


def encode_value(create_revision: int, mod_revision: int, version: int, value: bytes) -> bytes:
    return _KV.pack(create_revision, mod_revision, version) + value


def decode_value(key: bytes, record: bytes | memoryview) -> KeyValue:
    create, mod, version = _KV.unpack_from(record)
    return KeyValue(key, bytes(record[_KV.size :]), create, mod, version)


def encode_revision(revision: int) -> bytes:
    return _U64.pack(revision)


def decode_revision(raw: bytes | memoryview) -> int:
    return _U64.unpack(raw)[0]


def encode_event(event: Event, time: float) -> bytes:
    kv, prev = event.kv, event.prev_kv
    header = _LOG.pack(
        _TYPES[event.type],
        time,
        len(kv.key),
        len(kv.value),
        kv.create_revision,
        kv.version,
        prev is not None,
        prev.create_revision if prev else 0,
        prev.mod_revision if prev else 0,
        prev.version if prev else 0,
        len(prev.value) if prev else 0,
    )
    return b"".join((header, kv.key, kv.value, prev.value if prev else b""))


def decode_event(revision: int, record: bytes | memoryview) -> tuple[Event, float]:
    (
        kind,
        time,
        key_len,
        value_len,
        create,
        version,
        has_prev,
        prev_create,
        prev_mod,
        prev_version,
        prev_len,
    ) = _LOG.unpack_from(record)
    start = _LOG.size
    key = bytes(record[start : start + key_len])
    start += key_len
    value = bytes(record[start : start + value_len])
    start += value_len
    prev = None
    if has_prev:
        prev = KeyValue(
            key, bytes(record[start : start + prev_len]), prev_create, prev_mod, prev_version
        )
    return Event(_NAMES[kind], KeyValue(key, value, create, revision, version), prev), time


def event_key(record: bytes | memoryview) -> bytes:
    """Only the key of a log record (to filter by prefix without decoding values)."""
    key_len = _LOG.unpack_from(record)[2]
    return bytes(record[_LOG.size : _LOG.size + key_len])


def event_time(record: bytes | memoryview) -> float:
    return _LOG.unpack_from(record)[1]
