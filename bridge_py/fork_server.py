"""Casparian fork server: one per env on a worker, forks one guest per job.

Started by the worker as ``{env}/bin/python fork_server.py``, with the
scrubbed base environment of a guest (no bridge socket or token). It imports
pyarrow, the shim and the pyarrow modules plugins commonly use once, checks
that the process is still single-threaded (forking a process with other
threads can deadlock the child), and says READY. Then, for each FORK request,
it forks a child that becomes exactly the guest a spawned ``bridge_shim.py``
would be (see ``fork_child.py``).

The control protocol (docs/bridge-protocol.md, "Fork server") runs over this
process's stdin (worker → server) and stdout (server → worker) in the bridge's
frame format. The server is single-threaded: one ``selectors`` loop over the
control pipe, a SIGCHLD wakeup pipe and the children's stdout/stderr pipes.
It reaps its children itself (``waitpid``) and reports each exit (code or
signal name), after relaying what is left in that child's pipes.

When stdin ends (the worker stops it, or the worker died) the server SIGKILLs
every child's process group it still has, reaps them and exits. SIGINT and
SIGTERM are ignored: they reach the server with its worker's process group,
and the worker decides when the server ends.
"""
from __future__ import annotations

import gc
import json
import os
import selectors
import signal
import struct
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

HEADER = struct.Struct(">BI")
PID = struct.Struct(">I")
# Worker → server.
FORK = 0x41
RUN = 0x42
# Server → worker.
READY = 0x50
STARTED = 0x51
FAILED = 0x52
EXIT = 0x53
STDOUT = 0x54
STDERR = 0x55

#: Largest control frame accepted from the worker (the environment of a job).
MAX_REQUEST = 16 << 20
#: Pyarrow modules imported once here, so that no job pays for them.
WARM_MODULES = ("pyarrow.compute", "pyarrow.csv", "pyarrow.json", "pyarrow.parquet")
#: At most this many 64 KiB reads of a dead child's pipe are relayed before its EXIT.
MAX_FINAL_READS = 64
#: How long the server waits for its children to die when it stops.
STOP_WAIT_S = 5.0


class ChildStart:
    """Returned by the loop in a freshly forked child: what that child runs."""

    def __init__(self, request: Dict[str, Any], out_w: int, err_w: int, control_r: int) -> None:
        self.request, self.out_w, self.err_w, self.control_r = request, out_w, err_w, control_r


class Child:
    def __init__(self, pid: int, out_r: int, err_r: int, control_w: int) -> None:
        self.pid, self.out_r, self.err_r, self.control_w = pid, out_r, err_r, control_w
        self.pending = bytearray()  # RUN bytes not yet written to control_w


def _send(fd: int, kind: int, payload: bytes) -> None:
    data = HEADER.pack(kind, len(payload)) + payload
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _send_json(fd: int, kind: int, obj: Dict[str, Any]) -> None:
    _send(fd, kind, json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        import threading

        return threading.active_count()


def _exit_status(status: int) -> Tuple[Optional[int], Optional[str]]:
    if os.WIFSIGNALED(status):
        num = os.WTERMSIG(status)
        try:
            return None, signal.Signals(num).name
        except ValueError:
            return None, f"SIG{num}"
    return os.waitstatus_to_exitcode(status), None


class Server:
    def __init__(self, control_in: int, control_out: int) -> None:
        self.control_in, self.control_out = control_in, control_out
        self.sel = selectors.DefaultSelector()
        self.children: Dict[int, Child] = {}
        self.inbuf = bytearray()
        self.wake_r, self.wake_w = os.pipe()
        for fd in (control_in, self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd is what counts
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.sel.register(control_in, selectors.EVENT_READ, ("control", None))
        self.sel.register(self.wake_r, selectors.EVENT_READ, ("wake", None))

    # --- the loop ------------------------------------------------------------

    def loop(self) -> Optional[ChildStart]:
        """Serve until stdin ends (returns None), or return in a new child what it must run."""
        while True:
            for key, events in self.sel.select(timeout=1.0):
                what, child = key.data
                if what == "control":
                    result = self.on_control()
                    if result is not None:
                        return result if isinstance(result, ChildStart) else None
                elif what == "wake":
                    self._drain(self.wake_r)
                elif what == "ctl":
                    self.flush_control(child)
                else:
                    self.relay(child, key.fd, STDOUT if what == "out" else STDERR)
            self.reap()

    def on_control(self) -> object:
        try:
            data = os.read(self.control_in, 1 << 20)
        except BlockingIOError:
            return None
        if not data:
            return "eof"
        self.inbuf += data
        while len(self.inbuf) >= HEADER.size:
            kind, length = HEADER.unpack_from(self.inbuf)
            if length > MAX_REQUEST:
                print(f"fork_server: control frame of {length} bytes refused", file=sys.stderr)
                return "eof"
            if len(self.inbuf) < HEADER.size + length:
                break
            payload = bytes(self.inbuf[HEADER.size : HEADER.size + length])
            del self.inbuf[: HEADER.size + length]
            request = json.loads(payload.decode("utf-8"))
            if kind == FORK:
                started = self.fork(request)
                if started is not None:
                    return started
            elif kind == RUN:
                self.run(request)
            else:
                print(f"fork_server: unknown control frame kind {kind:#x}", file=sys.stderr)
        return None

    # --- requests ------------------------------------------------------------

    def fork(self, request: Dict[str, Any]) -> Optional[ChildStart]:
        reusable = bool(request.get("reuse"))
        fds: List[int] = []
        try:
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            control_r, control_w = os.pipe() if reusable else (-1, -1)
            fds = [out_r, out_w, err_r, err_w] + ([control_r, control_w] if reusable else [])
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            _send_json(self.control_out, FAILED, {"id": request.get("id"), "error": f"fork failed: {exc}"})
            return None
        if pid == 0:
            self.sel.close()  # the child keeps nothing of the server (fork_child closes the fds)
            return ChildStart(request, out_w, err_w, control_r)
        for fd in (out_w, err_w) + ((control_r,) if reusable else ()):
            os.close(fd)
        child = Child(pid, out_r, err_r, control_w)
        self.children[pid] = child
        _send_json(self.control_out, STARTED, {"id": request.get("id"), "pid": pid})
        for fd, what in ((out_r, "out"), (err_r, "err")):
            os.set_blocking(fd, False)
            self.sel.register(fd, selectors.EVENT_READ, (what, child))
        if reusable:
            os.set_blocking(control_w, False)
        return None

    def run(self, request: Dict[str, Any]) -> None:
        """Hand a reusable child its next job."""
        child = self.children.get(int(request.get("pid") or 0))
        if child is None or child.control_w < 0:
            _send_json(self.control_out, FAILED, {"id": request.get("id"), "error": "no such reusable guest"})
            return
        body = json.dumps({"cwd": request["cwd"], "env": request["env"]}, separators=(",", ":")).encode("utf-8")
        child.pending += HEADER.pack(RUN, len(body)) + body
        _send_json(self.control_out, STARTED, {"id": request.get("id"), "pid": child.pid})
        self.flush_control(child)

    def flush_control(self, child: Child) -> None:
        try:
            while child.pending:
                del child.pending[: os.write(child.control_w, child.pending)]
        except BlockingIOError:
            pass
        except OSError:
            child.pending.clear()  # the child is gone; its EXIT follows
        registered = child.control_w in self.sel.get_map()
        if child.pending and not registered:
            self.sel.register(child.control_w, selectors.EVENT_WRITE, ("ctl", child))
        elif not child.pending and registered:
            self.sel.unregister(child.control_w)

    # --- children ------------------------------------------------------------

    def relay(self, child: Child, fd: int, kind: int) -> bool:
        """Forward one read of a child's pipe; True when it carried data (False: empty for now, or ended and closed)."""
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return False
        if not data:
            self._close_pipe(child, fd)
            return False
        _send(self.control_out, kind, PID.pack(child.pid) + data)
        return True

    def _close_pipe(self, child: Child, fd: int) -> None:
        self.sel.unregister(fd)
        os.close(fd)
        if fd == child.out_r:
            child.out_r = -1
        else:
            child.err_r = -1

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            # What the child wrote before it died belongs before its EXIT (crash messages quote
            # stderr). A pipe a grandchild still holds is read as far as it goes now, then closed.
            for fd, kind in ((child.out_r, STDOUT), (child.err_r, STDERR)):
                reads = 0
                while fd >= 0 and reads < MAX_FINAL_READS and self.relay(child, fd, kind):
                    reads += 1
                if fd >= 0 and fd in (child.out_r, child.err_r):
                    self._close_pipe(child, fd)
            if child.control_w >= 0:
                if child.control_w in self.sel.get_map():
                    self.sel.unregister(child.control_w)
                os.close(child.control_w)
            code, signame = _exit_status(status)
            _send_json(self.control_out, EXIT, {"pid": pid, "code": code, "signal": signame})

    def stop(self) -> None:
        """Kill every child's process group and reap them (stdin ended)."""
        for pid in list(self.children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + STOP_WAIT_S
        while self.children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.01)
            else:
                self.children.pop(pid, None)

    @staticmethod
    def _drain(fd: int) -> None:
        try:
            while os.read(fd, 4096):
                pass
        except BlockingIOError:
            pass


def _take_control_fds() -> Tuple[int, int]:
    """Move the control pipes off fds 0 and 1: stdin becomes /dev/null and stdout goes to stderr, so a stray print cannot corrupt the protocol."""
    control_in, control_out = os.dup(0), os.dup(1)  # dup'ed fds are not inherited by exec'd programs
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    return control_in, control_out


def _warm() -> List[str]:
    warmed = []
    for name in WARM_MODULES:
        try:
            __import__(name)
            warmed.append(name)
        except Exception:  # noqa: BLE001 - a pyarrow build without the module: jobs import it (and fail) themselves
            pass
    return warmed


def main() -> int:
    control_in, control_out = _take_control_fds()
    import fork_child  # noqa: E402 - after the fds: imports may print
    from casparian_bridge.outputs import pa  # noqa: E402

    warmed = _warm() if pa is not None else []
    # What was imported stays shared with the children: their collections must not touch it
    # (each touch copies a page).
    gc.freeze()
    threads = _thread_count()
    server = Server(control_in, control_out)
    _send_json(
        control_out,
        READY,
        {
            "pid": os.getpid(),
            "python_version": sys.version.split()[0],
            "pyarrow_version": pa.__version__ if pa is not None else None,
            "threads": threads,
            "warm": warmed,
        },
    )
    try:
        start = server.loop()
    except BrokenPipeError:
        start = None  # the worker is gone
    if start is None:
        server.stop()
        return 0
    # In a new child: the server's loop has returned here, so the guest runs at the top of the stack.
    fork_child.main(start.request, start.out_w, start.err_w, start.control_r)


if __name__ == "__main__":
    sys.exit(main())
