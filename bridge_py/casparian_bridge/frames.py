"""The wire between guest and worker (docs/bridge-protocol.md).

A frame is ``kind`` (u8) + ``length`` (u32, big-endian) + ``length`` payload
bytes. ARROW payloads are raw Arrow IPC stream bytes; every other payload is
compact UTF-8 JSON (``encode_json``: no NaN/Infinity, no ASCII escaping).

Size contract: the guest sends no ARROW payload above ``MAX_ARROW_PAYLOAD``
(the worker caps frames at 4 MiB) and accepts frames up to
``MAX_INCOMING_FRAME`` (the job spec carries the plugin source).

Every frame the guest sends goes through a ``Channel``: the socket in a real
run, a printer in --local mode, a recorder in tests.
"""
from __future__ import annotations

import abc
import json
import socket
import struct
import threading
from typing import Any, Dict, Optional, Tuple, Union

# Worker → guest.
JOB_SPEC = 0x01
CANCEL = 0x02
# Guest → worker.
HELLO = 0x10
OUTPUT_BEGIN = 0x11
ARROW = 0x12
OUTPUT_END = 0x13
LOG = 0x14
PROGRESS = 0x15
METRICS = 0x16
ERROR = 0x17
DONE = 0x18

KIND_NAMES = {
    JOB_SPEC: "JOB_SPEC",
    CANCEL: "CANCEL",
    HELLO: "HELLO",
    OUTPUT_BEGIN: "OUTPUT_BEGIN",
    ARROW: "ARROW",
    OUTPUT_END: "OUTPUT_END",
    LOG: "LOG",
    PROGRESS: "PROGRESS",
    METRICS: "METRICS",
    ERROR: "ERROR",
    DONE: "DONE",
}
#: The frame kind of each event the ``casparian`` SDK emits.
SDK_KINDS = {"log": LOG, "progress": PROGRESS, "metrics": METRICS}

HEADER = struct.Struct(">BI")
#: No ARROW payload is larger than this (the worker caps frames at 4 MiB).
MAX_ARROW_PAYLOAD = 1 << 20
#: Largest frame accepted from the worker (the job spec carries the source).
MAX_INCOMING_FRAME = 64 << 20


def encode_frame(kind: int, payload: Union[bytes, bytearray, memoryview]) -> bytes:
    return HEADER.pack(kind, len(payload)) + bytes(payload)


def encode_json(obj: Dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


def _recv_exact(sock: socket.socket, n: int) -> Optional[bytes]:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def read_frame(sock: socket.socket, max_len: int = MAX_INCOMING_FRAME) -> Optional[Tuple[int, bytes]]:
    """Read one frame; None on a clean EOF at a frame boundary.

    Raises ValueError for a frame longer than ``max_len`` and EOFError when
    the socket ends inside a frame.
    """
    header = _recv_exact(sock, HEADER.size)
    if header is None:
        return None
    kind, length = HEADER.unpack(header)
    if length > max_len:
        raise ValueError(f"frame of {length} bytes from the worker exceeds {max_len}")
    payload = _recv_exact(sock, length) if length else b""
    if payload is None:
        raise EOFError("worker closed the socket in the middle of a frame")
    return kind, payload


class Channel(abc.ABC):
    """Where frames go. Thread-safe: plugins may log from threads."""

    @abc.abstractmethod
    def send(self, kind: int, payload: Union[bytes, bytearray, memoryview]) -> None:
        """Send one frame of `kind` with `payload`."""

    def send_json(self, kind: int, obj: Dict[str, Any]) -> None:
        self.send(kind, encode_json(obj))


class SocketChannel(Channel):
    """Frames to the worker's socket, each written whole under one lock."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        #: Set just before DONE or ERROR goes out: from then on the worker may hang up.
        self.finished = threading.Event()

    def send(self, kind: int, payload: Union[bytes, bytearray, memoryview]) -> None:
        with self._lock:
            if kind in (DONE, ERROR):
                self.finished.set()
            self._sock.sendall(HEADER.pack(kind, len(payload)))
            if len(payload):
                self._sock.sendall(payload)
