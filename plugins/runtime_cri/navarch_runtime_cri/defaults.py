"""The plugin's defaults, in a module that imports nothing: the options (and so every
Navarch process that loads the plugin to read its options) need them without gRPC."""

# containerd's socket, where its CRI plugin serves runtime.v1 beside containerd's API
DEFAULT_ENDPOINT = "unix:///run/containerd/containerd.sock"
CRIO_ENDPOINT = "unix:///var/run/crio/crio.sock"
DEFAULT_TIMEOUT = 10.0
# A pull moves whole images: the kubelet's default runtime request timeout is 2 min,
# and it lets pulls run longer still.
DEFAULT_PULL_TIMEOUT = 600.0
