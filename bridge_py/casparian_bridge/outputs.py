"""What ``parse`` returns → named Arrow IPC streams on a channel.

Contract (docs/bridge-protocol.md, "Outputs and interleaving" and "The plugin
contract"):

- ``write_result(result, mux)`` accepts a pyarrow Table/RecordBatch, a pandas
  or polars DataFrame, a RecordBatchReader, an ``Output`` or a list of them,
  or a generator of any of these; anything else raises TypeError.
- Each output is one IPC stream, written batch by batch and never held whole;
  ARROW payloads are cut at batch boundaries and never exceed
  ``MAX_ARROW_PAYLOAD``. Every batch of an output has its first schema
  (metadata aside), else PermanentError.
- pandas and polars are never imported here: a DataFrame is recognised only if
  the plugin already imported its library.

pyarrow itself is imported here, once for the whole guest. When it cannot be
imported, ``pa`` is None and ``PYARROW_IMPORT_ERROR`` holds the reason, which
the runner reports to the worker as a typed error instead of crashing.
"""
from __future__ import annotations

import collections.abc
import inspect
import sys
from typing import Any, Dict, Iterator, List, Optional, Union

import casparian

from .frames import ARROW, MAX_ARROW_PAYLOAD, OUTPUT_BEGIN, OUTPUT_END, Channel

try:  # a missing pyarrow is reported to the worker as a typed error, not a crash
    import pyarrow as pa
    import pyarrow.ipc  # noqa: F401

    PYARROW_IMPORT_ERROR: Optional[BaseException] = None
except ImportError as _exc:  # pragma: no cover - exercised only in broken envs
    pa = None  # type: ignore[assignment]
    PYARROW_IMPORT_ERROR = _exc


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
