"""navctl's discovery (issue 22 items 1 and 4) on canned answers: what a server-only
kind resolves to, categories across navctl's registry and the server's, and that the
answers are fetched once per run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from navarch.cli.navctl.discovery import CURRENT, Discovery
from navarch.cli.navctl.failures import CliError
from navarch.cli.navctl.manifests import Document, resource_for
from navarch.cli.navctl.targets import parse_targets

ANSWERS: dict[str, Any] = {
    "/api": {"kind": "APIVersions", "versions": ["v1"]},
    "/api/v1": {"groupVersion": "v1", "resources": []},
    "/apis": {
        "kind": "APIGroupList",
        "groups": [
            {
                "name": "stable.example.com",
                "versions": [{"groupVersion": "stable.example.com/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "stable.example.com/v1", "version": "v1"},
            }
        ],
    },
    "/apis/stable.example.com/v1": {
        "groupVersion": "stable.example.com/v1",
        "resources": [
            {
                "name": "crontabs",
                "singularName": "crontab",
                "namespaced": True,
                "kind": "CronTab",
                "verbs": ["get", "list", "watch", "create", "delete", "patch"],
                "shortNames": ["ct"],
                "categories": ["all"],
            },
            {"name": "crontabs/status", "namespaced": True, "kind": "CronTab"},
            {"name": "crontabs/scale", "namespaced": True, "kind": "Scale"},
        ],
    },
}


@pytest.fixture
def fetched() -> Iterator[list[str]]:
    paths: list[str] = []

    def fetch(path: str) -> Any:
        paths.append(path)
        return ANSWERS.get(path)

    token = CURRENT.set(Discovery(fetch))
    yield paths
    CURRENT.reset(token)


def test_a_server_only_kind_resolves_by_every_name(fetched):
    for word in ("crontabs", "crontab", "ct", "CronTab", "crontabs.stable.example.com"):
        (target,) = parse_targets([word, "x"])
        assert (target.res.plural, target.res.group, target.names) == (
            "crontabs",
            "stable.example.com",
            ("x",),
        )
    res = parse_targets(["ct"])[0].res
    assert res.namespaced and res.kind == "CronTab" and res.short_names == ("ct",)
    assert res.subresources == ("status", "scale")  # folded from crontabs/status, /scale
    assert res.url_path("dev", "x") == "/apis/stable.example.com/v1/namespaces/dev/crontabs/x"
    # fetched once for the whole run
    assert sorted(fetched) == ["/api", "/api/v1", "/apis", "/apis/stable.example.com/v1"]


def test_core_names_never_ask_the_server(fetched):
    assert [t.res.plural for t in parse_targets(["po,deploy"])] == ["pods", "deployments"]
    assert fetched == []


def test_all_takes_the_servers_kinds_of_that_category_too(fetched):
    assert [t.res.plural for t in parse_targets(["all"])] == [
        "pods",
        "services",
        "daemonsets",
        "deployments",
        "replicasets",
        "statefulsets",
        "cronjobs",
        "jobs",
        "crontabs",
    ]


def test_a_manifest_of_a_server_only_kind_finds_its_resource_with_one_request(fetched):
    doc = Document(
        {"apiVersion": "stable.example.com/v1", "kind": "CronTab", "metadata": {"name": "c"}},
        "c.yaml",
        1,
    )
    assert resource_for(doc).plural == "crontabs"
    assert fetched == ["/apis/stable.example.com/v1"]
    missing = Document({**doc.obj, "apiVersion": "stable.example.com/v2"}, "c.yaml", 1)
    with pytest.raises(CliError, match='no matches for kind "CronTab"'):
        resource_for(missing)


def test_an_unknown_name_lists_the_servers_kinds_too(fetched):
    with pytest.raises(CliError, match=r'resource type "widgets"; known types: .*crontabs \(ct\)'):
        parse_targets(["widgets"])
