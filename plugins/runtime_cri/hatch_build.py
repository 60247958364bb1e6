"""Build hook: generate the protobuf messages of the CRI subset with grpcio-tools.

Runs for wheels and editable installs alike, so the generated module always matches
the .proto kept in the package; the generated file is not committed.
"""

from __future__ import annotations

from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        from grpc_tools import protoc

        package = Path(self.root) / "navarch_runtime_cri"
        out = package / "_proto"
        out.mkdir(exist_ok=True)
        (out / "__init__.py").write_text('"""Generated from proto/cri_subset.proto."""\n')
        status = protoc.main(
            [
                "grpc_tools.protoc",
                f"--proto_path={package / 'proto'}",
                f"--python_out={out}",
                # the message classes are made at run time; the .pyi gives mypy their types
                f"--pyi_out={out}",
                str(package / "proto" / "cri_subset.proto"),
            ]
        )
        if status != 0:
            raise RuntimeError(f"protoc failed ({status}) on {package / 'proto'}")
        build_data["artifacts"].extend(
            ["navarch_runtime_cri/_proto/*.py", "navarch_runtime_cri/_proto/*.pyi"]
        )
