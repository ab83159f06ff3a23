"""Build step of casparian-client: generate the gRPC stubs from proto/.

The stubs are made by grpcio-tools (``grpc_tools.protoc``, a build
requirement) while the wheel is built, into the build tree only: they are never
written into the source tree, never committed and never edited.

Where the .proto files come from (first that exists):

1. ``<repo>/proto`` when this directory sits at ``clients/python`` of a
   checkout of the repository (``pip install ./clients/python``, an in-tree
   build): always the checkout's current contract.
2. ``./proto`` inside an sdist: ``sdist`` copies the repository's protos into
   the archive it makes, so a wheel built from the sdist alone (``python -m
   build``, or ``pip install casparian-client-X.tar.gz``) has them.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from importlib.metadata import version as installed_version
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
PROTOS = [f"casparian/v1/{n}.proto" for n in ("types", "dispatch", "sentinel", "worker")]
GEN_PACKAGE = "casparian_client._proto"


def _has_protos(root: Path) -> bool:
    return all((root / p).is_file() for p in PROTOS)


def proto_root() -> Path:
    repo = HERE.parent.parent
    if (repo / "buf.yaml").is_file() and _has_protos(repo / "proto"):
        return repo / "proto"
    if _has_protos(HERE / "proto"):
        return HERE / "proto"
    raise SystemExit(
        f"casparian-client: no protos found: expected {repo / 'proto'} (a repository checkout) "
        f"or {HERE / 'proto'} (an sdist)"
    )


# protoc names imports after the proto's path (`from casparian.v1 import types_pb2`);
# inside this package the stubs live side by side in casparian_client/_proto/.
_IMPORT = re.compile(r"^from casparian\.v1 import ", re.M)


def generate(out_dir: Path) -> None:
    """Run grpc_tools.protoc over PROTOS into out_dir (the build tree's casparian_client/_proto)."""
    import grpc_tools
    from grpc_tools import protoc

    root = proto_root()
    well_known = Path(grpc_tools.__file__).parent / "_proto"  # google/protobuf/timestamp.proto
    with tempfile.TemporaryDirectory() as tmp:
        args = ["grpc_tools.protoc", f"-I{root}", f"-I{well_known}",
                f"--python_out={tmp}", f"--pyi_out={tmp}", f"--grpc_python_out={tmp}", *PROTOS]
        if protoc.main(args) != 0:
            raise SystemExit(f"casparian-client: grpc_tools.protoc failed on the protos in {root}")
        out_dir.mkdir(parents=True, exist_ok=True)
        for f in sorted((Path(tmp) / "casparian" / "v1").iterdir()):
            (out_dir / f.name).write_text(_IMPORT.sub("from . import ", f.read_text()))
    (out_dir / "__init__.py").write_text(
        f'"""gRPC stubs generated at build time from {", ".join(PROTOS)}; do not edit."""\n'
    )


class BuildPyWithStubs(build_py):
    def run(self) -> None:
        super().run()
        generate(Path(self.build_lib) / "casparian_client" / "_proto")


class SdistWithProtos(sdist):
    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        root = proto_root()
        for p in PROTOS:
            dest = Path(base_dir) / "proto" / p
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(root / p, dest)


def _at_least_built_with(dist: str) -> str:
    """The stubs check at import that protobuf and grpcio are at least as new as
    the ones that generated them (grpcio-tools' own), within the same major."""
    major, minor = (int(x) for x in installed_version(dist).split(".")[:2])
    return f"{dist}>={major}.{minor},<{major + 1}"


setup(
    cmdclass={"build_py": BuildPyWithStubs, "sdist": SdistWithProtos},
    install_requires=[_at_least_built_with("grpcio"), _at_least_built_with("protobuf"), "pyarrow>=14"],
)
