"""A forked guest: what a child of ``fork_server.py`` does after ``fork()``.

The child must behave exactly like a guest the worker spawns as
``{env}/bin/python bridge_shim.py`` (docs/bridge-protocol.md, "Fork server"):

- it leads a new session and process group (``setsid``), so cancel and
  timeouts kill everything the plugin starts with one ``kill(-pgid)``;
- every signal has the disposition a fresh interpreter gives it (the server
  ignores SIGINT/SIGTERM and catches SIGCHLD) and none is blocked;
- stdin is /dev/null, stdout/stderr are this child's own pipes to the server,
  and every other inherited descriptor (the server's control channel, its
  selector, other children's pipes) is closed;
- ``os.environ`` is replaced by the scrubbed per-job environment the worker
  built (the same one a spawned guest gets, bridge socket and token
  included), and the cwd is the job's private directory;
- ``random`` (and numpy, if loaded) is re-seeded from ``os.urandom``.

Then it runs ``bridge_shim.main`` as a spawned guest would: HELLO with the
token, JOB_SPEC, rlimits (applied there, after pyarrow's import and before the
plugin), frames, verdict, and exits with the shim's code. The exit does what
an interpreter's exit does for the program (non-daemon threads are joined,
atexit handlers run, stdout/stderr are flushed) but skips tearing the
interpreter down (~25 ms with pyarrow loaded): objects still alive are not
finalized, so a file the plugin never closed is not flushed.

A *reusable* child (isolation ``reuse``) keeps a control pipe from the server
on fd 3 and, after a job that ended with a verdict, waits there for the next
job's environment and cwd (a RUN frame), as long as the server lives.
"""
from __future__ import annotations

import atexit
import json
import os
import random
import signal
import struct
import sys
import tempfile
import threading
import time
import traceback
from typing import Any, Dict, NoReturn, Optional

import bridge_shim
from casparian_bridge import limits, runner

#: Header of the frames on the control pipe of a reusable child (as the bridge's).
HEADER = struct.Struct(">BI")
#: The server hands a reusable child its next job (payload: {"cwd", "env"}).
RUN = 0x42
#: Where a reusable child keeps its control pipe.
CONTROL_FD = 3


def _reset_signals() -> None:
    """Dispositions of a fresh interpreter: Python's own for SIGINT, SIGPIPE and SIGXFSZ, the default for the rest."""
    signal.set_wakeup_fd(-1)
    python_defaults = {signal.SIGINT: signal.default_int_handler}
    for name in ("SIGPIPE", "SIGXFSZ"):
        if hasattr(signal, name):
            python_defaults[getattr(signal, name)] = signal.SIG_IGN
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, python_defaults.get(sig, signal.SIG_DFL))
        except (OSError, ValueError):
            pass  # signals the C library reserves
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _setup_fds(out_w: int, err_w: int, control_r: int) -> bool:
    """stdin ← /dev/null, stdout/stderr ← this child's pipes, the control pipe → fd 3; close everything else."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    first_free = 3
    if control_r >= 0:
        os.dup2(control_r, CONTROL_FD, inheritable=False)  # the plugin's subprocesses never see it
        first_free = CONTROL_FD + 1
    os.closerange(first_free, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 65536)
    return control_r >= 0


def _reseed() -> None:
    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        try:
            numpy.random.seed()
        except Exception:  # noqa: BLE001 - a broken numpy is the plugin's business
            pass


def _enter_job(request: Dict[str, Any]) -> None:
    """The job's environment and cwd, as a spawned guest would start with them."""
    env = request["env"]
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in env.items()})
    os.chdir(str(request["cwd"]))
    if hasattr(time, "tzset"):
        time.tzset()
    tempfile.tempdir = None  # recomputed from the job's TMPDIR on first use


def _serve(request: Dict[str, Any]) -> int:
    _enter_job(request)
    sys.argv = [bridge_shim.__file__]
    return bridge_shim.main(sys.argv)


def _read_exact(fd: int, n: int) -> Optional[bytes]:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _next_request() -> Optional[Dict[str, Any]]:
    """The next RUN from the server; None when the server is gone (EOF) or sends anything else."""
    header = _read_exact(CONTROL_FD, HEADER.size)
    if header is None:
        return None
    kind, length = HEADER.unpack(header)
    payload = _read_exact(CONTROL_FD, length) if length else b""
    if kind != RUN or payload is None:
        return None
    request = json.loads(payload.decode("utf-8"))
    return request if isinstance(request, dict) else None


def run_child(request: Dict[str, Any], out_w: int, err_w: int, control_r: int) -> int:
    """Become a guest and serve one job (or, when reusable, one job after another); returns the exit code."""
    os.setsid()
    _reset_signals()
    reusable = _setup_fds(out_w, err_w, control_r)
    _reseed()
    code = _serve(request)
    while reusable:
        # Only a job that ended with its verdict leaves the process fit for another; a job
        # with rlimits never runs in a reused guest (the worker forks a fresh one for it),
        # and limits cannot be raised again.
        if code not in (bridge_shim.EXIT_OK, bridge_shim.EXIT_FAILED) or limits._LIMITS:
            break
        runner.forget_plugins()
        sys.stdout.flush()
        sys.stderr.flush()
        nxt = _next_request()
        if nxt is None:
            break
        code = _serve(nxt)
    return code


def main(request: Dict[str, Any], out_w: int, err_w: int, control_r: int) -> NoReturn:
    """The whole life of a forked child: run_child, then exit as described above (never returns)."""
    try:
        code = run_child(request, out_w, err_w, control_r)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: B902 - as an uncaught exception ends a spawned shim: traceback, code 1
        traceback.print_exc()
        code = 1
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()  # joins non-daemon threads, as the interpreter's own exit does first
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
