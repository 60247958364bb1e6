"""additionalPrinterColumns: the JSONPath subset and each column type's cells, with the
Kubernetes docs' CronTab columns (Spec, Replicas, Age)."""

from __future__ import annotations

import datetime as dt

import pytest

from navarch.apiextensions.columns import cell, printer
from navarch.apiextensions.jsonpath import JSONPathError, find, parse
from navarch.apiextensions.v1 import CustomResourceDefinition

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
OBJ = {
    "metadata": {
        "name": "c",
        "creationTimestamp": "2024-05-01T11:55:00Z",
        "labels": {"a.b/c": "x"},
    },
    "spec": {"list": [{"n": 1}, {"n": 2}], "flag": True, "ratio": 2},
}


@pytest.mark.parametrize(
    ("path", "found"),
    [
        (".metadata.name", ["c"]),
        ("{.metadata.name}", ["c"]),
        (".spec.list[0].n", [1]),
        (".spec.list[-1].n", [2]),
        (".spec.list[5].n", []),
        (".spec.list[*].n", [1, 2]),
        (".spec.list.*.n", [1, 2]),
        (".metadata.labels['a.b/c']", ["x"]),
        ('.metadata.labels["a.b/c"]', ["x"]),
        (".status.replicas", []),
        (".", [OBJ]),
    ],
)
def test_jsonpath_subset(path, found):
    assert find(OBJ, path) == found


@pytest.mark.parametrize("path", ["spec.a", ".a..b", ".a[?(@.x==1)]", ".a[0:2]"])
def test_jsonpath_outside_the_subset_is_refused(path):
    with pytest.raises(JSONPathError):
        parse(path)


@pytest.mark.parametrize(
    ("value", "type_", "shown"),
    [
        (7, "integer", 7),
        (7.0, "integer", 7),
        ("7", "integer", None),
        (2, "number", 2.0),
        (True, "boolean", True),
        ("true", "boolean", None),
        ("x", "string", "x"),
        (3, "string", "3"),
        (["a", "b"], "string", '["a","b"]'),
        ("2024-05-01T11:55:00Z", "date", "5m"),
        ("not a time", "date", "<invalid>"),
        (None, "string", None),
        (1, "date", None),
    ],
)
def test_cells_by_column_type(value, type_, shown):
    assert cell(value, type_, NOW) == shown


def test_the_documentation_crontab_columns(crontab_crd, crontab):
    crontab_crd["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {
            "name": "Spec",
            "type": "string",
            "description": "The cron spec defining the interval a CronJob is run",
            "jsonPath": ".spec.cronSpec",
        },
        {
            "name": "Replicas",
            "type": "integer",
            "description": "The number of jobs launched by the CronJob",
            "jsonPath": ".spec.replicas",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    version = CustomResourceDefinition.from_dict(crontab_crd).version("v1")
    table = printer(version.additional_printer_columns)
    crontab["spec"]["replicas"] = 1
    crontab["metadata"]["creationTimestamp"] = "2024-05-01T11:55:00Z"
    assert [c.name for c in table.columns] == ["Name", "Spec", "Replicas", "Age"]
    assert table.columns[2].type == "integer"
    assert table.cells(crontab, NOW) == ["my-new-cron-object", "* * * * */5", 1, "5m"]


def test_a_version_without_columns_shows_name_and_age(crontab_crd, crontab):
    version = CustomResourceDefinition.from_dict(crontab_crd).version("v1")
    table = printer(version.additional_printer_columns)
    assert [(c.name, c.type) for c in table.columns] == [("Name", "string"), ("Age", "date")]
    # not stored yet: no creationTimestamp, nothing to show (kubectl prints <none>)
    assert table.cells(crontab, NOW) == ["my-new-cron-object", None]


def test_wide_columns_keep_their_priority():
    table = printer(
        CustomResourceDefinition.from_dict(
            {
                "spec": {
                    "versions": [
                        {
                            "name": "v1",
                            "additionalPrinterColumns": [
                                {
                                    "name": "Image",
                                    "type": "string",
                                    "priority": 1,
                                    "jsonPath": ".spec.image",
                                }
                            ],
                        }
                    ]
                }
            }
        )
        .version("v1")
        .additional_printer_columns
    )
    assert table.columns[1].priority == 1
