"""Values in field error messages read as JSON, never as Python reprs."""

from __future__ import annotations

import pytest

from navarch.api import InvalidObject, errors, load
from navarch.api.quantity import Quantity


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ({"app": "other"}, '{"app":"other"}'),
        (["a", "b"], '["a","b"]'),
        (("a", 1), '["a",1]'),
        ("text", '"text"'),
        ('say "hi"', '"say \\"hi\\""'),
        (3, "3"),
        (0.5, "0.5"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ({"b", "a"}, '["a","b"]'),
        ({"nested": [{"x": None, "y": True}]}, '{"nested":[{"x":null,"y":true}]}'),
        ("ünïcode", '"ünïcode"'),
    ],
)
def test_show_prints_json(value, shown):
    assert errors.show(value) == shown


def test_a_quantity_shows_as_its_text():
    assert errors.show(Quantity.parse("500m")) == '"500m"'


def test_a_selector_mismatch_prints_the_labels_as_json():
    error = errors.invalid(
        "spec.template.metadata.labels", {"app": "other"}, "`selector` does not match"
    )
    assert error.message == 'Invalid value: {"app":"other"}: `selector` does not match'


def test_every_constructor_that_takes_a_value_prints_json():
    made = [
        errors.invalid("p", [1, True], "d"),
        errors.not_supported("p", None, ["Always", "Never"]),
        errors.duplicate("p", {"k": False}),
        errors.not_found("p", ("x",)),
        errors.type_invalid("p", {"a": None}, "a string"),
    ]
    assert [e.message for e in made] == [
        "Invalid value: [1,true]: d",
        'Unsupported value: null: supported values: "Always", "Never"',
        'Duplicate value: {"k":false}',
        'Not found: ["x"]',
        'Invalid value: {"a":null}: must be a string',
    ]


def test_a_deployment_whose_selector_misses_its_template_says_so_in_json():
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "other"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    with pytest.raises(InvalidObject) as info:
        load(deployment)
    assert (
        'spec.template.metadata.labels: Invalid value: {"app":"other"}: `selector` does not '
        "match template `labels`"
    ) in info.value.message()
