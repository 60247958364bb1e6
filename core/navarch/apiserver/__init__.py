"""The API server: the Kubernetes-shaped REST front door over the store.

Every user, ``navctl``, ``kubectl``, agent, scheduler and controller talks only to it.
"""
