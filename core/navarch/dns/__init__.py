"""Cluster DNS (issue 24 item 6): the names of Kubernetes' DNS specification
(kubernetes/dns docs/specification.md), answered per node from a watch cache of
Services and EndpointSlices.

- :mod:`navarch.dns.records`: one Service (and its EndpointSlices) -> its records;
- :mod:`navarch.dns.zone`: the index of every Service's records, fed by informers;
- :mod:`navarch.dns.answers`: a question -> an answer from the index;
- :mod:`navarch.dns.server`: the UDP and TCP transport (dnspython's wire format);
- :mod:`navarch.dns.node`: the agent's part: the server, its feed, and the
  announcement on the Node that puts it behind the ``kube-dns`` Service.
"""

# The Service every pod's resolv.conf points at (through agent.cluster_dns), and where
# a node announces its own server (both read by the nodedns controller).
SERVICE_NAME, SERVICE_NAMESPACE = "kube-dns", "kube-system"
ADDRESS_ANNOTATION = "navarch.io/dns-address"
