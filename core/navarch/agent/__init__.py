"""The node agent (kubelet's role): registers its Node, renews its Lease, runs the pods bound
to it through a container runtime plugin and reports their true status."""
