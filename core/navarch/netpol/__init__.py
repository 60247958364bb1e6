"""NetworkPolicy enforcement on a node: :mod:`.compile` turns policies, pods and
namespaces into each local pod's allowed traffic, :mod:`.ruleset` renders that as one
nftables table and replaces it in one transaction, :mod:`.enforcer` keeps it in step
with the API server."""
