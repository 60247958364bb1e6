"""How large an object may be, and how large a line of a watch may get: the one
maximum the API server enforces and every reader of the API is sized for.

Kubernetes has two limits in series: kube-apiserver reads a request body of at most
3 MiB (413 above it), and etcd stores a value of at most 1.5 MiB (its default
``--max-request-bytes``), so an object whose stored form is larger cannot be written.
Navarch keeps both: request bodies up to :data:`MAX_REQUEST_BODY_BYTES`, stored
objects up to :data:`MAX_OBJECT_BYTES` (their JSON as the store keeps it; the stores'
own ``max_value_bytes`` default to the same), refused with 413 RequestEntityTooLarge.

Of that maximum, :data:`SYSTEM_RESERVE_BYTES` is kept for what the system adds to an
object someone else made (the scheduler's binding, an agent's status): a create or
update through the object itself is refused above :data:`MAX_WRITE_BYTES`, a write
through a subresource (status, binding) only above :data:`MAX_OBJECT_BYTES`. A pod
the API server accepted can always be bound and report its status.

A reader of a watch gets one object a line, wrapped in its event (and in a one-row
Table for ``navctl get -w``/``kubectl get -w``), so it must accept lines of the
object maximum plus that wrapping: :data:`MAX_WATCH_LINE_BYTES` leaves the whole
request-body limit for it.
"""

from __future__ import annotations

MAX_OBJECT_BYTES = 1536 * 1024  # 1.5 MiB: etcd's default value limit
SYSTEM_RESERVE_BYTES = 64 * 1024
MAX_WRITE_BYTES = MAX_OBJECT_BYTES - SYSTEM_RESERVE_BYTES  # 1,507,328 bytes
MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024  # kube-apiserver's request body limit
MAX_WATCH_LINE_BYTES = MAX_REQUEST_BODY_BYTES  # an event around an object at the maximum
