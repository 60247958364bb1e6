"""The Kubernetes object model: typed kinds, decoding with defaults and validation.

``load`` is the one path every incoming object takes::

    loaded = load(json_dict)          # default -> decode -> validate
    loaded.obj                        # a frozen model object (e.g. a Pod)
    loaded.ignored                    # paths of Kubernetes fields Navarch does not act on

and ``dump`` turns an object back into its wire dict.

Decoded objects compare semantically: after defaulting, ``decode(a).obj.spec ==
decode(b).obj.spec`` exactly when Kubernetes would see no change (quantities by value,
"0.5" == "500m"). ``pod_update_errors(old, new)`` is Kubernetes' pod update rule on
such objects.

The names below are imported on first use (:mod:`navarch.lazyexports`): a reader of
one kind (``navarch.api.core_v1``) does not load the defaulting, validation and
decoding machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from navarch.lazyexports import lazy_exports

if TYPE_CHECKING:
    from navarch.api.errors import FieldError, InvalidObject
    from navarch.api.loading import Decoding, Loaded, decode, dump, load, merge_errors
    from navarch.api.pod_update import pod_update_errors
    from navarch.api.quantity import Quantity, QuantityError
    from navarch.resources.registry import UnknownKind

__all__ = [
    "Decoding",
    "FieldError",
    "InvalidObject",
    "Loaded",
    "Quantity",
    "QuantityError",
    "UnknownKind",
    "decode",
    "dump",
    "load",
    "merge_errors",
    "pod_update_errors",
]

__getattr__, __dir__ = lazy_exports(
    globals(),
    {
        "FieldError": "navarch.api.errors",
        "InvalidObject": "navarch.api.errors",
        "UnknownKind": "navarch.resources.registry",
        "Decoding": "navarch.api.loading",
        "Loaded": "navarch.api.loading",
        "decode": "navarch.api.loading",
        "dump": "navarch.api.loading",
        "load": "navarch.api.loading",
        "merge_errors": "navarch.api.loading",
        "pod_update_errors": "navarch.api.pod_update",
        "Quantity": "navarch.api.quantity",
        "QuantityError": "navarch.api.quantity",
    },
)
