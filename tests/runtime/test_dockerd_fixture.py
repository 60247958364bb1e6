"""The private dockerd's containerd namespace is valid whatever its directory is named
(mkdtemp names hold '_' and may end in one; containerd refuses such identifiers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from navarch.testing.dockerd import DockerdProcess

CONTAINERD_IDENTIFIER = re.compile(r"^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$")


@pytest.mark.parametrize("name", ["nbe3y3a36_", "na_x.y", "n-9", "__x__"])
def test_namespace_is_a_valid_containerd_identifier(name):
    namespace = DockerdProcess(Path("/tmp") / name).namespace
    assert CONTAINERD_IDENTIFIER.match(namespace), namespace
    assert CONTAINERD_IDENTIFIER.match(namespace + "-plugins")
