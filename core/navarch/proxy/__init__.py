"""The Service proxy (kube-proxy's role, nftables mode): ClusterIPs, NodePorts,
load-balancer and external IPs of Services turned into DNAT rules in a table of the
node's own (``ip navarch-proxy``), from the EndpointSlices. See docs/networking.md."""
