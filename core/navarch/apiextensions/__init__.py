"""CustomResourceDefinitions (``apiextensions.k8s.io/v1``): the kind, and what a custom
resource's objects go through.

The modules, in the order an object meets them:

- :mod:`~navarch.apiextensions.v1` — the CustomResourceDefinition object model
  (``CustomResourceDefinition.from_dict`` / ``to_dict``, condition helpers).
- :mod:`~navarch.apiextensions.crd_defaults` — Kubernetes' defaults for a CRD
  (``singular``, ``listKind``, ``conversion.strategy``, ``status.storedVersions``).
- :mod:`~navarch.apiextensions.crd_validation` — Kubernetes' validation of a CRD (name
  ``<plural>.<group>``, DNS names, one storage version, printer columns, scale paths), the
  structural-schema rules for each version, and Navarch's own limit: one version.
- :mod:`~navarch.apiextensions.structural` — is an ``openAPIV3Schema`` structural? Every
  violation with its path; on success a typed :class:`~.structural.Structural` tree.
- :mod:`~navarch.apiextensions.defaulting` and :mod:`~navarch.apiextensions.pruning` —
  a custom object's ``default`` values applied, its unknown fields dropped.
- :mod:`~navarch.apiextensions.validation` — a custom object checked against the tree,
  every error at once in Kubernetes' words
  (``spec.replicas: Invalid value: "string": spec.replicas in body must be of type
  integer: "string"``).
- :mod:`~navarch.apiextensions.custom_objects` — the three above in Kubernetes' order
  (default, prune, validate) plus the object's apiVersion, kind and metadata.
- :mod:`~navarch.apiextensions.jsonpath` and :mod:`~navarch.apiextensions.columns` —
  ``additionalPrinterColumns``: the JSONPath subset CRDs use, and the Table cells.

Nothing here serves anything: the API server's resource registry wires these in.
"""
