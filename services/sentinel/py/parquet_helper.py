"""The Sentinel's Parquet helper: Arrow IPC stream <-> Parquet with pyarrow,
off the Sentinel's event loop.

The Sentinel (services/sentinel/sinks/parquet-helper.ts) starts it once as
``{env}/bin/python parquet_helper.py SOCKET`` in an env it provisions from its
pinned lockfile. The helper listens on the Unix socket SOCKET, prints one line
``READY {"pyarrow": VERSION}`` on stdout, and exits when its stdin closes (the
Sentinel is gone, however it died) or on SIGTERM. Standard library and pyarrow
only.

One connection carries one request: a JSON line, then data.

``{"op": "write", "parquet": PATH, "codec": C, "rowGroupRows": N, "rowGroupBytes": N}``
    followed by the bytes of one Arrow IPC stream; the Sentinel then shuts down
    its writing side. Every record batch is fully validated, batches are
    gathered into row groups of about N rows or bytes, and the Parquet file is
    created at PATH (which must not exist) and fsynced. Reply, one JSON line:
    ``{"ok": true, "rows": R, "batches": B, "parquetBytes": S}`` or
    ``{"ok": false, "kind": "format" | "conversion", "message": M}``
    (``format``: the bytes are not a valid stream; ``conversion``: valid data
    Parquet cannot hold). On any failure PATH is removed.

``{"op": "read", "parquet": PATH, "batchRows": N}``
    Reply: frames ``[u32 BE length][bytes]`` of one uncompressed Arrow IPC
    stream, ended by a zero-length frame; or, at any point, the length
    0xFFFFFFFF followed by one JSON line ``{"kind": ..., "message": ...}``.

A connection closed early by the Sentinel aborts its request.
"""
from __future__ import annotations

import errno
import json
import re
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
from typing import Any, Dict, List, Optional

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

FRAME = struct.Struct(">I")
ERROR_FRAME = 0xFFFFFFFF
READ_CHUNK = 1 << 20
#: Errors of the output volume itself (full, over quota, read-only, failing): reported as kind "io".
IO_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG}


def io_errno(e: OSError) -> Optional[int]:
    """The volume errno behind an OSError; pyarrow's own I/O errors carry it only in their text."""
    if e.errno in IO_ERRNOS:
        return e.errno
    m = re.search(r"[Ee]rrno (\d+)", str(e))
    return int(m.group(1)) if m and int(m.group(1)) in IO_ERRNOS else None


class FormatError(Exception):
    """The bytes are not a valid Arrow IPC stream."""


class ConversionError(Exception):
    """Valid Arrow data that Parquet cannot hold."""


def _text(err: BaseException) -> str:
    return str(err).strip().splitlines()[0][:2000] if str(err).strip() else type(err).__name__


def write_parquet(source: Any, req: Dict[str, Any]) -> Dict[str, Any]:
    path = req["parquet"]
    rows_per_group = int(req.get("rowGroupRows") or 1 << 20)
    bytes_per_group = int(req.get("rowGroupBytes") or 64 << 20)
    codec = req.get("codec") or "snappy"
    try:
        reader = ipc.open_stream(source)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as e:
        raise FormatError(f"schema does not decode ({_text(e)})") from None
    rows = batches = 0
    pending: List[pa.RecordBatch] = []
    pending_rows = pending_bytes = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                writer = pq.ParquetWriter(f, reader.schema, compression=codec)
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise ConversionError(f"cannot be stored as Parquet ({_text(e)})") from None

            def flush() -> None:
                nonlocal pending, pending_rows, pending_bytes
                if not pending:
                    return
                try:
                    writer.write_table(pa.Table.from_batches(pending, reader.schema), row_group_size=max(pending_rows, 1))
                except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as e:
                    raise ConversionError(f"cannot be stored as Parquet ({_text(e)})") from None
                pending, pending_rows, pending_bytes = [], 0, 0

            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                except (pa.ArrowInvalid, pa.ArrowIOError, pa.ArrowNotImplementedError, OSError) as e:
                    raise FormatError(f"record batch {batches} does not decode ({_text(e)})") from None
                try:
                    batch.validate(full=True)
                except pa.ArrowInvalid as e:
                    raise FormatError(f"record batch {batches} is invalid ({_text(e)})") from None
                rows += batch.num_rows
                batches += 1
                pending.append(batch)
                pending_rows += batch.num_rows
                pending_bytes += batch.nbytes
                if pending_rows >= rows_per_group or pending_bytes >= bytes_per_group:
                    flush()
            flush()
            writer.close()
            f.flush()
            os.fsync(f.fileno())
        return {"ok": True, "rows": rows, "batches": batches, "parquetBytes": os.path.getsize(path)}
    except BaseException:
        try:
            os.unlink(path)
        except OSError:
            pass
        raise


def read_parquet(conn: socket.socket, req: Dict[str, Any]) -> None:
    batch_rows = int(req.get("batchRows") or 64 * 1024)

    class Sink:
        closed = False

        def write(self, data: Any) -> int:
            view = memoryview(data).cast("B")
            if len(view):
                conn.sendall(FRAME.pack(len(view)))
                conn.sendall(view)
            return len(view)

        def flush(self) -> None:
            pass

        def close(self) -> None:
            self.closed = True

    # pre_buffer (the default) reads the whole file into memory first: slower
    # here, and the helper's memory would grow with the output.
    pf = pq.ParquetFile(req["parquet"], pre_buffer=False, buffer_size=READ_CHUNK)
    schema = pf.schema_arrow
    with ipc.new_stream(Sink(), schema) as w:
        for batch in pf.iter_batches(batch_size=batch_rows):
            w.write_batch(batch)
    conn.sendall(FRAME.pack(0))


class Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        conn: socket.socket = self.request
        rfile = conn.makefile("rb", buffering=READ_CHUNK)
        try:
            req = json.loads(rfile.readline(64 * 1024) or b"{}")
        except ValueError:
            return
        op = req.get("op")
        if op == "write":
            try:
                reply = write_parquet(rfile, req)
            except FormatError as e:
                reply = {"ok": False, "kind": "format", "message": str(e)}
            except ConversionError as e:
                reply = {"ok": False, "kind": "conversion", "message": str(e)}
            except OSError as e:
                code = io_errno(e)
                if code is not None:
                    reply = {"ok": False, "kind": "io", "message": f"{errno.errorcode.get(code, code)}: {_text(e)}"}
                else:
                    reply = {"ok": False, "kind": "internal", "message": f"{type(e).__name__}: {_text(e)}"}
            except Exception as e:  # noqa: BLE001 - reported to the Sentinel, which decides
                reply = {"ok": False, "kind": "internal", "message": f"{type(e).__name__}: {_text(e)}"}
            try:
                conn.sendall(json.dumps(reply).encode() + b"\n")
                if not reply["ok"]:
                    # Read the rest so the reply is not lost to a reset; the
                    # Sentinel stops sending when it sees the reply.
                    while rfile.read(READ_CHUNK):
                        pass
            except OSError:
                pass
        elif op == "read":
            try:
                read_parquet(conn, req)
            except Exception as e:  # noqa: BLE001
                try:
                    conn.sendall(FRAME.pack(ERROR_FRAME) + json.dumps({"kind": "internal", "message": f"{type(e).__name__}: {_text(e)}"}).encode() + b"\n")
                except OSError:
                    pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main() -> None:
    path = sys.argv[1]
    server = Server(path, Handler)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))

    def watch_parent() -> None:
        sys.stdin.buffer.read()  # returns at EOF: the Sentinel closed our stdin or died
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    sys.stdout.write("READY " + json.dumps({"pyarrow": pa.__version__}) + "\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
