"""A kind's defaults and validation are its strategy's (issue 22 items 1 and 4): the
generic decode path (``navarch.api.load``, which the API server's admission takes)
finds the strategy through the resource registry, so a plugin's kind gets the same
hooks as the core's, and nothing in the object model tests a kind's name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from navarch import api
from navarch.api import errors
from navarch.api.errors import FieldError, InvalidObject
from navarch.api.meta import TopLevel
from navarch.api.schema import Model, model, wire
from navarch.api.validation import validate
from navarch.apiserver.errors import ApiError
from navarch.resources.core import NAMESPACES, PODS
from navarch.resources.registry import registry
from navarch.resources.spec import Resource
from navarch.resources.strategy import Strategy

PLUGIN = "tests.api.test_strategy_hooks"
CORE = Path(__file__).resolve().parents[2] / "core" / "navarch"


@model()
class GadgetSpec(Model):
    size: int | None = wire()
    colour: str | None = wire()


@model()
class Gadget(TopLevel):
    API_VERSION, KIND, RESOURCE = "hooks.example.io/v1", "Gadget", "gadgets"

    spec: GadgetSpec | None = wire()


class GadgetStrategy(Strategy):
    def default(self, obj: dict[str, Any]) -> None:
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("colour", "blue")

    def validate(self, obj: Any) -> list[FieldError]:
        size = obj.spec.size if obj.spec else None
        if size is not None and size > 10:
            return [errors.invalid("spec.size", size, "must be at most 10")]
        return []

    def validate_name(self, name: str) -> list[str]:
        return [] if name.startswith("g-") else ["must start with 'g-'"]


GADGETS = Resource.for_model(Gadget, strategy=GadgetStrategy())


@pytest.fixture
def gadgets():
    registry().add(GADGETS, plugin=PLUGIN)
    yield GADGETS
    registry().remove(GADGETS.group, GADGETS.plural)


def gadget(name: str = "g-one", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "hooks.example.io/v1",
        "kind": "Gadget",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_load_defaults_a_plugin_kind_through_its_strategy(gadgets):
    loaded = api.load(gadget(size=3))
    assert loaded.obj.spec == GadgetSpec(size=3, colour="blue")
    assert loaded.obj.metadata.namespace == "default"  # what every namespaced object gets


def test_load_validates_a_plugin_kind_through_its_strategy(gadgets):
    with pytest.raises(InvalidObject) as caught:
        api.load(gadget("bad-name", size=11))
    paths = {error.path for error in caught.value.errors}
    assert paths == {"spec.size", "metadata.name"}
    assert "must start with 'g-'" in str(caught.value)


def test_validate_takes_the_strategy_the_registry_serves_the_kind_with(gadgets):
    obj = api.load(gadget(size=3)).obj
    assert validate(obj) == []
    assert [e.path for e in validate(api.load(gadget(size=4)).obj, GadgetStrategy())] == []

    class Stricter(GadgetStrategy):
        def validate(self, obj: Any) -> list[FieldError]:
            return [errors.required("spec.weight", "")]

    assert [e.path for e in validate(obj, Stricter())] == ["spec.weight"]


def test_core_kinds_default_and_validate_through_their_strategies():
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1"}]},
    }
    PODS.strategy.default(pod)
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert NAMESPACES.strategy.validate_name("a.b")  # a namespace name is a DNS label
    assert not PODS.strategy.validate_name("a.b")  # a pod name is a DNS subdomain


def test_the_object_model_branches_on_no_kind_name():
    # Each kind's rules are its strategy's (navarch.resources.core.<kind>); the generic
    # defaulting and validation entry points name no kind.
    kind_test = re.compile(r"""kind\s*==|KIND\s*==|isinstance\(obj, (Pod|Namespace|Node)\)""")
    for module in ("api/defaults.py", "api/loading.py", "api/validation/__init__.py"):
        text = (CORE / module).read_text()
        assert not kind_test.search(text), module


async def test_the_api_servers_write_path_takes_the_strategys_defaults_and_rules(gadgets, storage):
    created = await storage.create(GADGETS, "default", gadget(size=3))
    assert created.obj["spec"] == {"size": 3, "colour": "blue"}
    with pytest.raises(ApiError) as refused:
        await storage.create(GADGETS, "default", gadget("g-two", size=12))
    status = refused.value.to_status()
    assert status["code"] == 422
    assert [cause["field"] for cause in status["details"]["causes"]] == ["spec.size"]
