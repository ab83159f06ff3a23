"""Casparian bridge shim: runs one plugin on one input file for the worker.

Started by the worker as ``{env}/bin/python bridge_shim.py`` with
``CASPARIAN_BRIDGE_SOCKET`` and ``CASPARIAN_BRIDGE_TOKEN`` in its environment.
It connects to the Unix socket, sends HELLO, receives the JOB_SPEC (which
carries the plugin source), runs ``parse(input_path)`` and streams each output
as Arrow IPC stream bytes in ARROW frames, then a DONE or an ERROR frame.
The frame protocol is described in docs/bridge-protocol.md.

This file is the process: connecting, watching the worker, exit codes and the
--local mode. The work is done by the ``casparian_bridge`` package next to it
(frames, limits, errors, outputs, runner; see its ``__init__``), found, like
the ``casparian`` SDK, through this file's directory, never the cwd.

Imports only the standard library and pyarrow (pandas/polars are only touched
when the plugin already imported them and returns their DataFrames).

For trying a plugin by hand, without a worker:

    python bridge_shim.py --local PLUGIN.py INPUT [--out DIR]

prints the frames as readable lines and, with --out, writes each output's IPC
stream to DIR/<name>.arrows.

Exit codes: 0 after DONE, 1 after ERROR, 2 for bad usage (or no job spec),
70 when the worker cancels or goes away before the verdict.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import sys
import threading
from typing import Dict, List, Optional, Union

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

# The package's public names, re-exported: bridge_py/tests and anything that
# imports the shim as a module keep finding them here, as before the split.
from casparian_bridge.errors import MAX_MESSAGE_CHARS, MAX_TRACEBACK_CHARS, error_payload  # noqa: E402,F401
from casparian_bridge.frames import (  # noqa: E402,F401
    ARROW,
    CANCEL,
    DONE,
    ERROR,
    HEADER,
    HELLO,
    JOB_SPEC,
    KIND_NAMES,
    LOG,
    MAX_ARROW_PAYLOAD,
    MAX_INCOMING_FRAME,
    METRICS,
    OUTPUT_BEGIN,
    OUTPUT_END,
    PROGRESS,
    Channel,
    SocketChannel,
    encode_frame,
    encode_json,
    read_frame,
)
from casparian_bridge.limits import LimitSetupError, apply_limits, limit_breach  # noqa: E402,F401
from casparian_bridge.outputs import OutputMux, pa, to_arrow, write_result  # noqa: E402,F401
from casparian_bridge.runner import load_plugin, run_job  # noqa: E402,F401

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_WORKER_GONE = 70


def _watch_worker(sock: socket.socket, finished: threading.Event) -> None:
    """Exit when the worker cancels or goes away, unless the job already finished.

    A CANCEL comes from a live worker, which also signals the guest's process
    group (SIGTERM, then SIGKILL after its grace period): this process just
    exits. When the worker is gone instead (the socket ends or breaks, e.g.
    after a kill -9), nothing else will stop what the plugin started, so the
    guest takes its whole process group down with it (see _kill_own_group).
    """
    cancelled = False
    try:
        while True:
            frame = read_frame(sock)
            if frame is None:
                break
            if frame[0] == CANCEL:
                cancelled = True
                break
    except (OSError, ValueError, EOFError):
        pass
    if finished.is_set():
        return
    if not cancelled:
        _kill_own_group()
    os._exit(EXIT_WORKER_GONE)


def _kill_own_group() -> None:
    """SIGKILL this process's group, this process included, if it leads that group.

    The worker starts the guest as the leader of a new process group, so the
    group holds exactly the guest and whatever the plugin started (subprocesses,
    multiprocessing workers). A guest started otherwise (by hand, or by a test
    in the runner's group) leads no group and kills nothing but itself.
    """
    if not hasattr(os, "killpg"):
        return
    try:
        pgid = os.getpgrp()
        if pgid == os.getpid():
            os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def serve(socket_path: str, token: str) -> int:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(socket_path)
    channel = SocketChannel(sock)
    channel.send_json(
        HELLO,
        {
            "token": token,
            "pid": os.getpid(),
            "python_version": sys.version.split()[0],
            "pyarrow_version": pa.__version__ if pa is not None else None,
        },
    )
    frame = read_frame(sock)
    if frame is None or frame[0] != JOB_SPEC:
        print("bridge_shim: the worker did not send a job spec", file=sys.stderr)
        return EXIT_USAGE
    spec = json.loads(frame[1].decode("utf-8"))
    threading.Thread(target=_watch_worker, args=(sock, channel.finished), name="casparian-watch", daemon=True).start()
    ok = run_job(spec, channel)
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    # A reused guest (fork_child.py) serves the next job in this process: the
    # watcher ends when the worker hangs up, and this socket must not linger.
    sock.close()
    return EXIT_OK if ok else EXIT_FAILED


class LocalChannel(Channel):
    """For --local: prints frames and optionally keeps each output's IPC bytes."""

    def __init__(self, out_dir: Optional[str]) -> None:
        self._lock = threading.Lock()
        self._out_dir = out_dir
        self._current: Optional[str] = None
        self.streams: Dict[str, bytearray] = {}

    def send(self, kind: int, payload: Union[bytes, bytearray, memoryview]) -> None:
        with self._lock:
            if kind == ARROW:
                assert self._current is not None
                self.streams.setdefault(self._current, bytearray()).extend(payload)
                return
            obj = json.loads(bytes(payload).decode("utf-8"))
            if kind == OUTPUT_BEGIN:
                self._current = obj["name"]
            if kind == ERROR:
                sys.stderr.write(obj.pop("traceback", ""))
            print(f"{KIND_NAMES.get(kind, hex(kind))} {json.dumps(obj)}", file=sys.stderr)

    def save(self) -> None:
        if not self._out_dir:
            return
        os.makedirs(self._out_dir, exist_ok=True)
        for name, data in self.streams.items():
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
            with open(os.path.join(self._out_dir, f"{safe}.arrows"), "wb") as f:
                f.write(data)


def local_main(args: List[str]) -> int:
    out_dir = None
    if len(args) == 4 and args[2] == "--out":
        out_dir = args[3]
        args = args[:2]
    if len(args) != 2:
        print("usage: bridge_shim.py --local PLUGIN.py INPUT [--out DIR]", file=sys.stderr)
        return EXIT_USAGE
    plugin_path, input_path = args
    with open(plugin_path, encoding="utf-8") as f:
        source = f.read()
    name = os.path.splitext(os.path.basename(plugin_path))[0]
    channel = LocalChannel(out_dir)
    spec = {"job_id": "local", "attempt": 1, "plugin_name": name, "source": source, "input_path": input_path}
    ok = run_job(spec, channel)
    channel.save()
    return EXIT_OK if ok else EXIT_FAILED


def main(argv: List[str]) -> int:
    if argv[1:2] == ["--local"]:
        return local_main(argv[2:])
    socket_path = os.environ.pop("CASPARIAN_BRIDGE_SOCKET", "")
    token = os.environ.pop("CASPARIAN_BRIDGE_TOKEN", "")
    if not socket_path or not token:
        print("bridge_shim: CASPARIAN_BRIDGE_SOCKET and CASPARIAN_BRIDGE_TOKEN must be set", file=sys.stderr)
        return EXIT_USAGE
    return serve(socket_path, token)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
