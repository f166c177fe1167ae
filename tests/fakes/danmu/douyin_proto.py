"""The published douyin.proto compiled with protoc (grpcio-tools) at test time."""

from __future__ import annotations

import functools
import importlib.util
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from grpc_tools import protoc

PROTO = Path(__file__).parents[2] / "resources" / "danmu" / "douyin" / "douyin.proto"


@functools.cache
def douyin_pb2() -> ModuleType:
    """The generated module (compiled once per test run)."""
    out = Path(tempfile.mkdtemp(prefix="srec-douyin-proto-"))
    code = protoc.main(
        ["protoc", f"-I{PROTO.parent}", f"--python_out={out}", str(PROTO)]
    )
    assert code == 0, "protoc failed on douyin.proto"
    spec = importlib.util.spec_from_file_location("douyin_pb2", out / "douyin_pb2.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["douyin_pb2"] = module
    spec.loader.exec_module(module)
    return module
