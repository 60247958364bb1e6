"""The Kubernetes documentation's CronTab example, loaded from tests/fixtures/manifests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

MANIFESTS = Path(__file__).parent.parent / "fixtures" / "manifests"


def load_manifest(name: str) -> dict[str, Any]:
    return yaml.safe_load((MANIFESTS / name).read_text())


@pytest.fixture
def crontab_crd() -> dict[str, Any]:
    return copy.deepcopy(load_manifest("crontab-crd.yaml"))


@pytest.fixture
def crontab() -> dict[str, Any]:
    return copy.deepcopy(load_manifest("my-crontab.yaml"))
