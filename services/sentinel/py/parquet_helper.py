"""The Sentinel's Parquet helper: Arrow IPC stream <-> Parquet with pyarrow,
off the Sentinel's event loop.

The Sentinel (services/sentinel/sinks/parquet-helper.ts) starts it once as
``{env}/bin/python parquet_helper.py SOCKET`` in an env it provisions from its
pinned lockfile. The helper listens on the Unix socket SOCKET, prints one line
``READY {"pyarrow": VERSION}`` on stdout, and exits when its stdin closes (the
Sentinel is gone, however it died) or on SIGTERM. Standard library and pyarrow
only.

One connection carries one request: a JSON line, then data.

``{"op": "write", "parquet": PATH, "codec": C, "rowGroupRows": N, "rowGroupBytes": N,
"rules": {"output": NAME, "contract": [COLUMN…] | null, "lineage": {…} | null,
"quarantine": QPATH, "metadata": {KEY: VALUE}}}``
    followed by the bytes of one Arrow IPC stream; the Sentinel then shuts down
    its writing side. Every record batch is fully validated, batches are
    gathered into row groups of about N rows or bytes, and the Parquet file is
    created at PATH (which must not exist) and fsynced. With ``rules``
    (optional; output_rules.py), each batch is checked against the contract
    and given the lineage columns on its way, bad rows go to a second Parquet
    file at QPATH (created only if there are any), and both files carry the
    metadata as Parquet key-value metadata. Reply, one JSON line:
    ``{"ok": true, "rows": R, "inputRows": I, "batches": B, "parquetBytes": S,
    "schema": B64, "quarantined": Q, "quarantineBytes": QS, "quarantineSchema": B64}``
    (schemas as base64 of their Arrow IPC serialization; the quarantine fields
    only with rules) or ``{"ok": false, "kind": "format" | "conversion" |
    "schema", "message": M}`` (``format``: the bytes are not a valid stream;
    ``conversion``: valid data Parquet cannot hold; ``schema``: the columns do
    not match the contract). On any failure neither file is left.

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

import base64

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from output_rules import OutputRules, SchemaMismatch

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


def _b64_schema(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


class _Quarantine:
    """The quarantine file of one output, opened at its first row."""

    def __init__(self, path: str, codec: str, metadata: Dict[str, str]):
        self.path, self.codec, self.metadata = path, codec, metadata
        self.writer: Optional[pq.ParquetWriter] = None
        self.schema: Optional[pa.Schema] = None
        self.rows = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if self.writer is None:
            self.schema = batch.schema.with_metadata(self.metadata)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            self.file = os.fdopen(fd, "wb")
            self.writer = pq.ParquetWriter(self.file, self.schema, compression=self.codec)
        self.writer.write_batch(batch.replace_schema_metadata(self.metadata))
        self.rows += batch.num_rows

    def close(self) -> int:
        if self.writer is None:
            return 0
        self.writer.close()
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return os.path.getsize(self.path)

    def discard(self) -> None:
        if self.writer is not None:
            try:
                self.file.close()
            except OSError:
                pass
            try:
                os.unlink(self.path)
            except OSError:
                pass


def write_parquet(source: Any, req: Dict[str, Any]) -> Dict[str, Any]:
    path = req["parquet"]
    rows_per_group = int(req.get("rowGroupRows") or 1 << 20)
    bytes_per_group = int(req.get("rowGroupBytes") or 64 << 20)
    codec = req.get("codec") or "snappy"
    spec = req.get("rules")
    try:
        reader = ipc.open_stream(source)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as e:
        raise FormatError(f"schema does not decode ({_text(e)})") from None
    rules: Optional[OutputRules] = None
    quarantine: Optional[_Quarantine] = None
    schema = reader.schema
    if spec is not None:
        rules = OutputRules(spec["output"], spec.get("contract"), spec.get("lineage"))
        metadata = {str(k): str(v) for k, v in (spec.get("metadata") or {}).items()}
        schema = rules.split(pa.RecordBatch.from_pylist([], schema=reader.schema), 0)[0].schema.with_metadata(metadata)
        quarantine = _Quarantine(spec["quarantine"], codec, metadata)
    rows = batches = written = 0
    pending: List[pa.RecordBatch] = []
    pending_rows = pending_bytes = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                writer = pq.ParquetWriter(f, schema, compression=codec)
            except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as e:
                raise ConversionError(f"cannot be stored as Parquet ({_text(e)})") from None

            def flush() -> None:
                nonlocal pending, pending_rows, pending_bytes
                if not pending:
                    return
                try:
                    writer.write_table(pa.Table.from_batches(pending, schema), row_group_size=max(pending_rows, 1))
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
                first_row = rows
                rows += batch.num_rows
                if rules is not None:
                    try:
                        keep, aside = rules.split(batch, first_row)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
                        raise ConversionError(f"record batch {batches} cannot be checked against its contract ({_text(e)})") from None
                    if aside is not None:
                        quarantine.write(aside)
                    batch = keep.replace_schema_metadata(schema.metadata)
                written += batch.num_rows
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
        reply: Dict[str, Any] = {"ok": True, "rows": written, "inputRows": rows, "batches": batches, "parquetBytes": os.path.getsize(path)}
        if rules is not None:
            reply["schema"] = _b64_schema(schema)
            reply["quarantined"] = quarantine.rows
            reply["quarantineBytes"] = quarantine.close()
            if quarantine.schema is not None:
                reply["quarantineSchema"] = _b64_schema(quarantine.schema)
        return reply
    except BaseException:
        if quarantine is not None:
            quarantine.discard()
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
            except SchemaMismatch as e:
                reply = {"ok": False, "kind": "schema", "message": str(e)}
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
