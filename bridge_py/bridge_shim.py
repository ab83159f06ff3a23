"""Casparian bridge shim: runs one plugin on one input file for the worker.

Started by the worker as ``{env}/bin/python bridge_shim.py`` with
``CASPARIAN_BRIDGE_SOCKET`` and ``CASPARIAN_BRIDGE_TOKEN`` in its environment.
It connects to the Unix socket, sends HELLO, receives the JOB_SPEC (which
carries the plugin source), runs ``parse(input_path)`` and streams each output
as Arrow IPC stream bytes in ARROW frames, then a DONE or an ERROR frame.
The frame protocol is described in docs/bridge-protocol.md.

Imports only the standard library and pyarrow (pandas/polars are only touched
when the plugin already imported them and returns their DataFrames).

For trying a plugin by hand, without a worker:

    python bridge_shim.py --local PLUGIN.py INPUT [--out DIR]

prints the frames as readable lines and, with --out, writes each output's IPC
stream to DIR/<name>.arrows.
"""
from __future__ import annotations

import abc
import importlib.util
import collections.abc
import errno
import inspect
import json
import linecache
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import traceback
import types
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import casparian  # noqa: E402  (needs the path above)

try:  # a missing pyarrow is reported to the worker as a typed error, not a crash
    import pyarrow as pa
    import pyarrow.ipc  # noqa: F401

    _PYARROW_IMPORT_ERROR: Optional[BaseException] = None
except ImportError as _exc:  # pragma: no cover - exercised only in broken envs
    pa = None  # type: ignore[assignment]
    _PYARROW_IMPORT_ERROR = _exc

# --- frames -----------------------------------------------------------------

JOB_SPEC = 0x01
CANCEL = 0x02
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
_SDK_KINDS = {"log": LOG, "progress": PROGRESS, "metrics": METRICS}

HEADER = struct.Struct(">BI")
#: No ARROW payload is larger than this (the worker caps frames at 4 MiB).
MAX_ARROW_PAYLOAD = 1 << 20
#: Largest frame accepted from the worker (the job spec carries the source).
MAX_INCOMING_FRAME = 64 << 20
#: Text fields are cut to these sizes so that no JSON frame comes near the cap.
MAX_MESSAGE_CHARS = 64 * 1024
MAX_TRACEBACK_CHARS = 256 * 1024

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_WORKER_GONE = 70


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
    """Read one frame; None on a clean EOF at a frame boundary."""
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


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head - 40
    return f"{text[:head]}\n... [{len(text) - head - tail} characters cut] ...\n{text[-tail:]}"


class Channel(abc.ABC):
    """Where frames go. Thread-safe: plugins may log from threads."""

    @abc.abstractmethod
    def send(self, kind: int, payload: Union[bytes, bytearray, memoryview]) -> None:
        """Send one frame of `kind` with `payload`."""

    def send_json(self, kind: int, obj: Dict[str, Any]) -> None:
        self.send(kind, encode_json(obj))


class SocketChannel(Channel):
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


# --- outputs ----------------------------------------------------------------


class _ArrowSink:
    """File-like object given to ``pyarrow.ipc.new_stream`` for one output.

    Collects what the IPC writer writes and hands it to the multiplexer in
    pieces of at most MAX_ARROW_PAYLOAD bytes whenever ``flush_frames`` is
    called (after each batch) or the buffer is full.
    """

    closed = False

    def __init__(self, mux: "OutputMux", name: str) -> None:
        self._mux = mux
        self._name = name
        self._buf = bytearray()

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        if len(self._buf) + n < MAX_ARROW_PAYLOAD:
            self._buf += view
            return n
        room = MAX_ARROW_PAYLOAD - len(self._buf)
        self._buf += view[:room]
        self._mux.emit(self._name, self._buf)
        self._buf = bytearray()
        pos = room
        while n - pos >= MAX_ARROW_PAYLOAD:
            self._mux.emit(self._name, view[pos : pos + MAX_ARROW_PAYLOAD])
            pos += MAX_ARROW_PAYLOAD
        self._buf += view[pos:]
        return n

    def flush(self) -> None:  # called by pyarrow; frames are cut at batch boundaries instead
        pass

    def flush_frames(self) -> None:
        if self._buf:
            self._mux.emit(self._name, self._buf)
            self._buf = bytearray()

    def close(self) -> None:
        self.closed = True


class _OutputState:
    def __init__(self, name: str, sink: _ArrowSink, schema: "pa.Schema") -> None:
        self.name = name
        self.sink = sink
        self.schema = schema
        self.writer = pa.ipc.new_stream(sink, schema)
        self.rows = 0
        self.batches = 0


class OutputMux:
    """The named outputs of one run, each an Arrow IPC stream.

    Outputs may interleave (a generator yielding to several names). The wire
    carries one "current output": OUTPUT_BEGIN {name} switches it, and the
    ARROW frames that follow belong to that output. The first begin of a name
    is followed by its schema message; a later begin of the same name (a
    continuation) by more record-batch messages only. OUTPUT_END is sent once
    per name, after the plugin has finished.
    """

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._current: Optional[str] = None
        self._outputs: Dict[str, _OutputState] = {}

    def emit(self, name: str, payload: Union[bytearray, memoryview]) -> None:
        if not len(payload):
            return
        if self._current != name:
            self._channel.send_json(OUTPUT_BEGIN, {"name": name})
            self._current = name
        for start in range(0, len(payload), MAX_ARROW_PAYLOAD):
            self._channel.send(ARROW, payload[start : start + MAX_ARROW_PAYLOAD])

    def write(self, name: str, data: Any) -> None:
        """Write one piece of data (or a stream of pieces) to output ``name``."""
        for batch in _batches(data):
            self._write_batch(name, batch)

    def _write_batch(self, name: str, batch: "pa.RecordBatch") -> None:
        state = self._outputs.get(name)
        if state is None:
            state = _OutputState(name, _ArrowSink(self, name), batch.schema)
            self._outputs[name] = state
        elif not batch.schema.equals(state.schema, check_metadata=False):
            raise casparian.PermanentError(
                f"output {name!r}: batch schema differs from the output's first schema\n"
                f"first: {state.schema.to_string(show_schema_metadata=False)}\n"
                f"this:  {batch.schema.to_string(show_schema_metadata=False)}"
            )
        elif batch.schema.metadata != state.schema.metadata:
            batch = batch.replace_schema_metadata(state.schema.metadata)
        state.writer.write_batch(batch)
        state.rows += batch.num_rows
        state.batches += 1
        state.sink.flush_frames()

    def ensure(self, name: str, schema: "pa.Schema") -> None:
        """Declare an output even if it receives no batch (an empty table)."""
        if name not in self._outputs:
            self._outputs[name] = _OutputState(name, _ArrowSink(self, name), schema)

    def finish(self) -> List[Dict[str, Any]]:
        """Close every stream and send OUTPUT_END for each; returns the summaries."""
        summaries = []
        for state in self._outputs.values():
            state.writer.close()
            state.sink.flush_frames()
            summary = {"name": state.name, "rows": state.rows, "batches": state.batches}
            self._channel.send_json(OUTPUT_END, summary)
            summaries.append(summary)
        self._current = None
        return summaries


def _is_instance_of(obj: Any, module: str, cls: str) -> bool:
    """isinstance against a class of a module only if the plugin already imported it."""
    mod = sys.modules.get(module)
    klass = getattr(mod, cls, None) if mod is not None else None
    return klass is not None and isinstance(obj, klass)


def to_arrow(obj: Any) -> Union["pa.Table", "pa.RecordBatch"]:
    """Convert one piece of plugin data to a pyarrow Table or RecordBatch."""
    if isinstance(obj, (pa.Table, pa.RecordBatch)):
        return obj
    if _is_instance_of(obj, "pandas", "DataFrame"):
        return pa.Table.from_pandas(obj, preserve_index=False)
    if _is_instance_of(obj, "polars", "DataFrame"):
        return obj.to_arrow()
    raise TypeError(
        f"cannot turn {type(obj).__module__}.{type(obj).__qualname__} into Arrow data; return a pyarrow "
        "Table or RecordBatch, a pandas or polars DataFrame, an Output or a list of Outputs"
    )


def _is_stream(obj: Any) -> bool:
    return isinstance(obj, pa.RecordBatchReader) or inspect.isgenerator(obj) or (
        isinstance(obj, collections.abc.Iterator) and not isinstance(obj, (str, bytes))
    )


def _batches(data: Any) -> Iterator["pa.RecordBatch"]:
    """The record batches of one piece of data, or of a stream of pieces."""
    if _is_stream(data) and not isinstance(data, pa.RecordBatchReader):
        for item in data:
            if isinstance(item, casparian.Output):
                raise TypeError("an Output cannot be nested inside another output's data")
            if _is_stream(item):
                raise TypeError("a stream cannot be nested inside another stream")
            yield from _batches(item)
        return
    if isinstance(data, pa.RecordBatchReader):
        yield from data
        return
    table = to_arrow(data)
    if isinstance(table, pa.RecordBatch):
        yield table
    else:
        yield from table.to_batches()


def write_result(result: Any, mux: OutputMux) -> None:
    """Route what ``parse`` returned (or yielded) to the outputs."""
    if result is None:
        raise TypeError("parse() returned None; return data, or an empty list for no output")
    if isinstance(result, casparian.Output):
        _write_output(result, mux)
    elif isinstance(result, (list, tuple)):
        for item in result:
            if not isinstance(item, casparian.Output):
                raise TypeError(f"a list returned by parse() must hold Outputs, not {type(item).__name__}")
        for item in result:
            _write_output(item, mux)
    elif _is_stream(result) and not isinstance(result, pa.RecordBatchReader):
        for item in result:
            if isinstance(item, casparian.Output):
                _write_output(item, mux)
            else:
                if _is_stream(item):
                    raise TypeError("a generator cannot yield another generator; yield Output(name, gen) instead")
                _write_default(item, mux)
    else:
        _write_default(result, mux)


def _write_default(data: Any, mux: OutputMux) -> None:
    _write_output(casparian.Output(casparian.DEFAULT_OUTPUT, data), mux)


def _write_output(output: casparian.Output, mux: OutputMux) -> None:
    data = output.data
    if not _is_stream(data):
        table = to_arrow(data)
        mux.ensure(output.name, table.schema)
        data = table
    elif isinstance(data, pa.RecordBatchReader):
        mux.ensure(output.name, data.schema)
    mux.write(output.name, data)


# --- errors -----------------------------------------------------------------


def _plugin_frames(tb: Optional[types.TracebackType]) -> Optional[types.TracebackType]:
    """Drop the shim's own leading frames, so the traceback starts in the plugin."""
    here = os.path.abspath(__file__)
    first = tb
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) == here:
        tb = tb.tb_next
    return tb if tb is not None else first


def error_payload(exc: BaseException) -> Dict[str, Any]:
    """The ERROR frame for an exception raised by (or on behalf of) the plugin."""
    message = str(exc)
    breach = None if isinstance(exc, (casparian.TransientError, casparian.PermanentError)) else limit_breach(exc)
    if isinstance(exc, casparian.TransientError):
        error_class, retryable = "transient", True
    elif breach is not None:
        error_class, retryable = "resource_limit", False
        message = f"{breach}: {message}" if message else breach
    else:  # PermanentError and every other exception
        error_class, retryable = "permanent", False
    tb = "".join(traceback.format_exception(type(exc), exc, _plugin_frames(exc.__traceback__)))
    return {
        "error_class": error_class,
        "code": "PLUGIN_ERROR",
        "type": type(exc).__name__,
        "message": _cut(message, MAX_MESSAGE_CHARS),
        "traceback": _cut(tb, MAX_TRACEBACK_CHARS),
        "retryable": retryable,
    }


# --- resource limits --------------------------------------------------------

#: The limits in force for this run, as requested units (MiB, seconds, files);
#: set by apply_limits and named in resource_limit error messages.
_LIMITS: Dict[str, int] = {}


class LimitSetupError(casparian.PermanentError):
    """A requested limit cannot be applied; the plugin is not run without it."""


def _vm_size_bytes() -> Optional[int]:
    """This process's current address-space size (Linux), None when unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def apply_limits(requested: Any) -> List[str]:
    """Apply a job spec's ``limits`` to this process with setrlimit.

    ``{"memory_mb", "cpu_seconds", "open_files"}``, 0 or absent = no limit:

    - memory_mb → RLIMIT_AS (address space, not RSS). Applied after pyarrow is
      imported, since pyarrow reserves a lot of address space up front; a limit
      at or below what the process already uses is refused.
    - cpu_seconds → RLIMIT_CPU, counted from now: the CPU time the interpreter
      used to start is added. The hard limit is one second above the soft one,
      so the kernel sends SIGXCPU (which kills the guest; the worker maps it to
      resource_limit) before the SIGKILL backstop. Core dumps are turned off.
    - open_files → RLIMIT_NOFILE.

    Soft = hard = the limit; a limit is never raised above the current hard
    limit (the lower current one is kept, with a note). Returns notes to log;
    raises LimitSetupError when a limit cannot be applied.
    """
    _LIMITS.clear()
    if requested is None:
        return []
    if not isinstance(requested, dict):
        raise LimitSetupError(f"job spec limits must be an object, not {type(requested).__name__}")
    wanted: Dict[str, int] = {}
    for key in ("memory_mb", "cpu_seconds", "open_files"):
        value = requested.get(key, 0)
        if value is None:
            value = 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LimitSetupError(f"job spec limit {key} must be a non-negative integer, not {value!r}")
        if value:
            wanted[key] = value
    if not wanted:
        return []
    try:
        import resource
    except ImportError as exc:
        raise LimitSetupError(f"resource limits {sorted(wanted)} cannot be applied on this platform: {exc}") from None

    notes: List[str] = []

    def set_limit(rlimit: int, name: str, label: str, soft: int, hard: int) -> int:
        _, cur_hard = resource.getrlimit(rlimit)
        if cur_hard != resource.RLIM_INFINITY and hard > cur_hard:
            notes.append(
                f"{label} limit: requested {soft} exceeds the current hard {name} of {cur_hard}; "
                f"keeping the lower current limit"
            )
            hard = cur_hard
            soft = min(soft, cur_hard)
        try:
            resource.setrlimit(rlimit, (soft, hard))
        except (ValueError, OSError) as exc:
            raise LimitSetupError(f"cannot apply the {label} limit ({name} = {soft}): {exc}") from None
        return soft

    files = wanted.get("open_files")
    if files:
        set_limit(resource.RLIMIT_NOFILE, "RLIMIT_NOFILE", "open-files", files, files)
        _LIMITS["open_files"] = resource.getrlimit(resource.RLIMIT_NOFILE)[0]

    cpu = wanted.get("cpu_seconds")
    if cpu:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        soft = cpu + math.ceil(usage.ru_utime + usage.ru_stime)
        set_limit(resource.RLIMIT_CPU, "RLIMIT_CPU", "CPU", soft, soft + 1)
        try:  # SIGXCPU's default action dumps core: not wanted from every breach
            resource.setrlimit(resource.RLIMIT_CORE, (0, resource.getrlimit(resource.RLIMIT_CORE)[1]))
        except (ValueError, OSError):
            pass
        if hasattr(signal, "SIGXCPU") and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGXCPU, signal.SIG_DFL)
        _LIMITS["cpu_seconds"] = cpu

    memory = wanted.get("memory_mb")
    if memory:
        limit = memory << 20
        used = _vm_size_bytes()
        if used is not None and used >= limit:
            raise LimitSetupError(
                f"cannot apply the memory limit of {memory} MiB (RLIMIT_AS): the interpreter and pyarrow already "
                f"use {used >> 20} MiB of address space; raise memory_mb well above that"
            )
        set_limit(resource.RLIMIT_AS, "RLIMIT_AS", "memory", limit, limit)
        _LIMITS["memory_mb"] = resource.getrlimit(resource.RLIMIT_AS)[0] >> 20
    return notes


def limit_breach(exc: BaseException) -> Optional[str]:
    """Names the limit an exception (or one it arose from) ran into, None when it is no limit breach."""
    seen = set()
    cur: Optional[BaseException] = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, MemoryError):
            memory = _LIMITS.get("memory_mb")
            return f"memory limit of {memory} MiB exceeded (RLIMIT_AS)" if memory else "out of memory"
        if isinstance(cur, OSError) and cur.errno == errno.EMFILE:
            files = _LIMITS.get("open_files")
            if files is None:
                try:
                    import resource

                    files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
                except (ImportError, OSError, ValueError):
                    files = None
            return f"open-files limit of {files} exceeded (RLIMIT_NOFILE)" if files else "open-files limit exceeded"
        cur = cur.__cause__ or cur.__context__
    return None


# --- running a plugin -------------------------------------------------------

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _module_exists(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name.split(".")[0]) is not None
    except (ImportError, ValueError):
        return True


def load_plugin(name: str, source: str) -> types.ModuleType:
    """compile()+exec the source into a fresh module named after the plugin."""
    filename = f"<plugin:{name}>"
    module_name = name if _MODULE_NAME.match(name) else "casparian_plugin"
    module = types.ModuleType(module_name)
    module.__file__ = filename
    # Tracebacks show plugin source lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    # Registered so that dataclasses, pickle and typing can find the module, but
    # never in place of a real module of that name (a plugin called "csv").
    if not _module_exists(module_name):
        sys.modules[module_name] = module
    code = compile(source, filename, "exec", dont_inherit=True)
    exec(code, module.__dict__)
    return module


def run_job(spec: Dict[str, Any], channel: Channel) -> bool:
    """Run the plugin of a job spec, sending outputs and DONE or ERROR. True on success."""
    started = time.monotonic()
    casparian._set_emitter(lambda kind, payload: channel.send_json(_SDK_KINDS[kind], payload))
    try:
        if _PYARROW_IMPORT_ERROR is not None:
            raise casparian.PermanentError(f"pyarrow cannot be imported in this environment: {_PYARROW_IMPORT_ERROR}")
        # After pyarrow's import (it needs address space) and before any plugin code.
        for note in apply_limits(spec.get("limits")):
            channel.send_json(LOG, {"level": "warn", "message": note})
        module = load_plugin(str(spec.get("plugin_name") or "plugin"), str(spec["source"]))
        parse = getattr(module, "parse", None)
        if not callable(parse):
            raise casparian.PermanentError("the plugin defines no module-level parse(path)")
        mux = OutputMux(channel)
        write_result(parse(spec["input_path"]), mux)
        outputs = mux.finish()
    except BaseException as exc:  # noqa: B902 - SystemExit/KeyboardInterrupt from plugins are failures too
        channel.send_json(ERROR, error_payload(exc))
        return False
    finally:
        casparian._set_emitter(None)
    channel.send_json(METRICS, _run_metrics(started))
    channel.send_json(DONE, {"rows": sum(o["rows"] for o in outputs), "outputs": outputs})
    return True


def _run_metrics(started: float) -> Dict[str, float]:
    values: Dict[str, float] = {"guest_seconds": round(time.monotonic() - started, 6)}
    try:
        import resource

        values["guest_max_rss_kb"] = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    except (ImportError, OSError):
        pass
    return {k: v for k, v in values.items() if math.isfinite(v)}


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
