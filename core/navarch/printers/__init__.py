"""The columns ``kubectl get`` shows for each kind, as pure functions of wire dicts and
a clock (Kubernetes' ``pkg/printers/internalversion``).

A kind's :class:`~navarch.printers.cells.Printer` is part of its resource spec
(:class:`navarch.resources.Resource`); the API server turns it into a ``meta.k8s.io``
Table (:mod:`navarch.apiserver.printers`), navctl reuses the duration helpers. Nothing
here imports the API server, so clients and plugins can import it.

* ``cells`` and ``durations``: columns, printers and the cells every kind shares;
* ``podstatus``: the READY, STATUS and RESTARTS rules for pods;
* ``pods``, ``nodes``, ``workloads``, ``events``, ``simple``: each kind's columns.
"""
