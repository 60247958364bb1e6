"""core/v1 ConfigMap and Secret: configuration and credentials that pods take as env
and as files (the agent side reads them; the API server keeps them).

On the wire a Secret's ``data`` values are base64 strings (Go's ``[]byte``), and so
are a ConfigMap's ``binaryData`` values; a ConfigMap's ``data`` values are text. A
Secret's ``stringData`` is write-only: the API server merges it into ``data``
(:mod:`navarch.resources.core.configuration`) and never stores or returns it; it is a
field here so that the OpenAPI documents (and so ``kubectl apply``'s field
validation) know it.
"""

from __future__ import annotations

from navarch.api.meta import TopLevel
from navarch.api.schema import model, wire

# Kubernetes' secret types (pkg/apis/core/types.go) and the keys each one requires.
SECRET_TYPE_OPAQUE = "Opaque"
SECRET_TYPE_SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SECRET_TYPE_DOCKERCFG = "kubernetes.io/dockercfg"
SECRET_TYPE_DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
SECRET_TYPE_BASIC_AUTH = "kubernetes.io/basic-auth"
SECRET_TYPE_SSH_AUTH = "kubernetes.io/ssh-auth"
SECRET_TYPE_TLS = "kubernetes.io/tls"
SECRET_TYPE_BOOTSTRAP_TOKEN = "bootstrap.kubernetes.io/token"

SERVICE_ACCOUNT_NAME_KEY = "kubernetes.io/service-account.name"
DOCKERCFG_KEY = ".dockercfg"
DOCKER_CONFIG_JSON_KEY = ".dockerconfigjson"
BASIC_AUTH_USERNAME_KEY = "username"
BASIC_AUTH_PASSWORD_KEY = "password"
SSH_AUTH_PRIVATE_KEY = "ssh-privatekey"
TLS_CERT_KEY = "tls.crt"
TLS_PRIVATE_KEY_KEY = "tls.key"

# Kubernetes' MaxSecretSize: the bytes of all values together, for both kinds.
MAX_CONFIG_BYTES = 1024 * 1024


@model()
class ConfigMap(TopLevel):
    """Non-secret configuration: ``data`` (UTF-8 text) and ``binaryData`` (base64)."""

    API_VERSION, KIND, RESOURCE = "v1", "ConfigMap", "configmaps"

    data: dict[str, str] | None = wire()
    binary_data: dict[str, str] | None = wire()
    immutable: bool | None = wire()


@model()
class Secret(TopLevel):
    """Secret data (base64 values); ``type`` says which keys it must hold."""

    API_VERSION, KIND, RESOURCE = "v1", "Secret", "secrets"

    data: dict[str, str] | None = wire()
    string_data: dict[str, str] | None = wire()
    type: str | None = wire()
    immutable: bool | None = wire()
