"""ConfigMaps and Secrets (core/v1): how the API server serves them.

A Secret's ``stringData`` is a write-only convenience (Kubernetes merges it in its
v1 conversion): on every create and update its values are base64-encoded into
``data``, winning over a key of the same name there, and the field is dropped, so it
is never stored, returned or watched. Base64 values (a Secret's ``data``, a
ConfigMap's ``binaryData``) that do not decode are refused as Kubernetes' decoder
refuses them: 400 BadRequest, ``Secret in version "v1" cannot be handled as a Secret:
illegal base64 data at input byte 4``.
"""

from __future__ import annotations

from typing import Any

from navarch.api import wirebytes
from navarch.api.core_v1_config import SECRET_TYPE_OPAQUE, ConfigMap, Secret
from navarch.api.errors import FieldError
from navarch.api.validation import configuration as rules
from navarch.printers.configuration import CONFIGMAP_PRINTER, SECRET_PRINTER
from navarch.resources.fields import dotted
from navarch.resources.spec import Resource
from navarch.resources.strategy import DELETE_DEPENDENTS, Obj, Strategy


def _check_base64(obj: Obj, kind: str, field: str) -> None:
    values = obj.get(field)
    if not isinstance(values, dict):
        return  # not an object: decoding reports it as a field error
    for value in values.values():
        if not isinstance(value, str):
            continue
        try:
            wirebytes.decode(value)
        except wirebytes.IllegalBase64 as exc:
            from navarch.apiserver import errors  # only the server refuses a request

            raise errors.bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: {exc}'
            ) from None


def merge_string_data(obj: Obj) -> None:
    """``stringData`` into ``data`` (it wins), then gone. Left as it is when it is not
    a map of strings: decoding then reports the field and the object is refused."""
    string_data = obj.get("stringData")
    if string_data is None:
        obj.pop("stringData", None)
        return
    if not isinstance(string_data, dict) or not all(
        isinstance(v, str) for v in string_data.values()
    ):
        return
    data = obj.get("data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return
    obj["data"] = {**data, **{k: wirebytes.encode(v.encode()) for k, v in string_data.items()}}
    del obj["stringData"]
    if not obj["data"]:
        del obj["data"]


class ConfigMapStrategy(Strategy):
    # Owned ones (by an operator's object, say) go with their owner, as in Kubernetes.
    garbage_collection = DELETE_DEPENDENTS

    def validate(self, obj: Any) -> list[FieldError]:
        return rules.validate_configmap(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return rules.validate_configmap_update(new, old)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _check_base64(obj, "ConfigMap", "binaryData")

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        _check_base64(new, "ConfigMap", "binaryData")


class SecretStrategy(Strategy):
    garbage_collection = DELETE_DEPENDENTS

    def default(self, obj: Obj) -> None:
        if not obj.get("type"):
            obj["type"] = SECRET_TYPE_OPAQUE

    def validate(self, obj: Any) -> list[FieldError]:
        return rules.validate_secret(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return rules.validate_secret_update(new, old)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _check_base64(obj, "Secret", "data")
        merge_string_data(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        _check_base64(new, "Secret", "data")
        merge_string_data(new)


CONFIGMAPS = Resource.for_model(
    ConfigMap,
    short_names=("cm",),
    strategy=ConfigMapStrategy(),
    printer=CONFIGMAP_PRINTER,
    description="ConfigMap holds configuration data for pods to consume.",
)
SECRETS = Resource.for_model(
    Secret,
    strategy=SecretStrategy(),
    field_selectors=dotted("type"),
    printer=SECRET_PRINTER,
    description="Secret holds secret data of a certain type.",
)

RESOURCES: tuple[Resource, ...] = (CONFIGMAPS, SECRETS)
