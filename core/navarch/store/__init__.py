"""The store contract (etcd's model): a revisioned, watchable key-value store.

Backends are plugins (``navarch_register_stores``); ``navarch.testing.store`` is the
conformance suite every backend passes.
"""

from navarch.store.contract import (
    DELETE,
    PUT,
    Event,
    KeyValue,
    RangeResult,
    Store,
    prefix_end,
)
from navarch.store.errors import (
    AlreadyExists,
    Compacted,
    Conflict,
    Corrupt,
    InvalidArgument,
    Locked,
    NotFound,
    StoreError,
    TooLarge,
    Unavailable,
)

__all__ = [
    "DELETE",
    "PUT",
    "AlreadyExists",
    "Compacted",
    "Conflict",
    "Corrupt",
    "Event",
    "InvalidArgument",
    "KeyValue",
    "Locked",
    "NotFound",
    "RangeResult",
    "Store",
    "StoreError",
    "TooLarge",
    "Unavailable",
    "prefix_end",
]
