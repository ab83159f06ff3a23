"""Helpers shared by the bridge tests (imported after bridge_py is put on sys.path)."""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict, List, Tuple, Union

BRIDGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if BRIDGE_DIR not in sys.path:
    sys.path.insert(0, BRIDGE_DIR)

import pyarrow as pa  # noqa: E402

import bridge_shim  # noqa: E402

SHIM_PATH = os.path.join(BRIDGE_DIR, "bridge_shim.py")
EXAMPLES_DIR = os.path.join(BRIDGE_DIR, "examples")


class RecordingChannel(bridge_shim.Channel):
    """Keeps every frame sent, in order."""

    def __init__(self) -> None:
        self.frames: List[Tuple[int, bytes]] = []

    def send(self, kind: int, payload: Union[bytes, bytearray, memoryview]) -> None:
        self.frames.append((kind, bytes(payload)))

    def json_frames(self, kind: int) -> List[Dict[str, Any]]:
        return [json.loads(p) for k, p in self.frames if k == kind]

    def kinds(self) -> List[str]:
        return [bridge_shim.KIND_NAMES[k] for k, _ in self.frames]


def reassemble(frames: List[Tuple[int, bytes]]) -> Dict[str, bytes]:
    """Follow OUTPUT_BEGIN switches the way the worker does; the IPC stream of each output."""
    streams: Dict[str, bytearray] = {}
    current = None
    for kind, payload in frames:
        if kind == bridge_shim.OUTPUT_BEGIN:
            current = json.loads(payload)["name"]
            streams.setdefault(current, bytearray())
        elif kind == bridge_shim.ARROW:
            assert current is not None, "ARROW before OUTPUT_BEGIN"
            streams[current] += payload
    return {name: bytes(data) for name, data in streams.items()}


def read_stream(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(data).read_all()


def run_source(source: str, input_path: str = "/dev/null", name: str = "test_plugin") -> Tuple[bool, RecordingChannel]:
    channel = RecordingChannel()
    ok = bridge_shim.run_job({"plugin_name": name, "source": source, "input_path": input_path}, channel)
    return ok, channel
