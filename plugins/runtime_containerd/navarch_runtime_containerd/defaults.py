"""The plugin's defaults, in a module that imports nothing: the options (and so every
Navarch process that loads the plugin to read its options) need them without gRPC."""

DEFAULT_NAMESPACE = "navarch"
DEFAULT_SNAPSHOTTER = "overlayfs"
DEFAULT_TIMEOUT = 10.0
