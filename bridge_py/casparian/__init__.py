"""Casparian plugin SDK.

A plugin is a Python source file defining a module-level ``parse(path)``. It
either returns its data (a pyarrow Table or RecordBatch, a pandas or polars
DataFrame, an :class:`Output`, or a list of Outputs) or is a generator that
yields data as it goes (batches, tables and DataFrames go to the output named
``"default"``; ``Output`` objects go to their named output). Yielded data is
streamed to the worker as it is produced.

Errors: raise :class:`TransientError` for failures that another attempt may not
hit (a flaky mount, a locked file); raise :class:`PermanentError` (or any other
exception) when the input itself is bad. ``MemoryError`` and running out of
file descriptors (EMFILE) are reported as resource limits.

Only the standard library is imported here: the SDK works in any environment
the worker runs, whatever the plugin's own requirements.
"""
from __future__ import annotations

import math
import sys
from typing import Any, Callable, Dict, Optional

__all__ = [
    "DEFAULT_OUTPUT",
    "Output",
    "TransientError",
    "PermanentError",
    "log",
    "progress",
    "metrics",
]

#: The output that bare tables, batches and DataFrames are written to.
DEFAULT_OUTPUT = "default"

#: Longest output name the worker accepts.
MAX_OUTPUT_NAME = 128

LOG_LEVELS = ("debug", "info", "warn", "error")
_LEVEL_ALIASES = {"warning": "warn", "critical": "error", "fatal": "error"}


class Output:
    """Data for one named output of the plugin.

    ``data`` is anything ``parse`` may return for the default output: a pyarrow
    Table or RecordBatch, a pandas or polars DataFrame, a pyarrow
    RecordBatchReader, or an iterator/generator of those (streamed).
    """

    __slots__ = ("name", "data")

    def __init__(self, name: str, data: Any) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("Output name must be a non-empty string")
        if len(name) > MAX_OUTPUT_NAME:
            raise ValueError(f"Output name is longer than {MAX_OUTPUT_NAME} characters")
        if any(ord(c) < 0x20 for c in name):
            raise ValueError("Output name must not contain control characters")
        self.name = name
        self.data = data

    def __repr__(self) -> str:
        return f"Output({self.name!r}, <{type(self.data).__name__}>)"


class TransientError(Exception):
    """A failure that another attempt may not hit; the job is retried with backoff."""


class PermanentError(Exception):
    """The input cannot be parsed; the job fails without retry."""


# The bridge shim installs an emitter; without one (a plugin run by hand) the
# SDK writes readable lines to stderr instead.
Emitter = Callable[[str, Dict[str, Any]], None]
_emitter: Optional[Emitter] = None


def _set_emitter(emitter: Optional[Emitter]) -> None:
    """Used by the bridge shim; not part of the plugin API."""
    global _emitter
    _emitter = emitter


def _emit(kind: str, payload: Dict[str, Any]) -> None:
    if _emitter is not None:
        _emitter(kind, payload)
    else:
        print(f"[casparian {kind}] {payload}", file=sys.stderr)


def normalize_level(level: str) -> str:
    """Map a level name (``warning``, ``INFO``...) to one of :data:`LOG_LEVELS`."""
    lv = str(level).lower()
    lv = _LEVEL_ALIASES.get(lv, lv)
    if lv not in LOG_LEVELS:
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}")
    return lv


def log(message: str, level: str = "info") -> None:
    """Send a log line to the worker (it shows up in the job's events)."""
    _emit("log", {"level": normalize_level(level), "message": str(message)})


def progress(
    rows: Optional[int] = None,
    fraction: Optional[float] = None,
    message: Optional[str] = None,
) -> None:
    """Report progress: rows done so far, and/or a fraction in [0, 1], and/or a note."""
    payload: Dict[str, Any] = {}
    if rows is not None:
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise ValueError("rows must be a non-negative int")
        payload["rows"] = rows
    if fraction is not None:
        f = float(fraction)
        if not (0.0 <= f <= 1.0):
            raise ValueError("fraction must be between 0 and 1")
        payload["fraction"] = f
    if message is not None:
        payload["message"] = str(message)
    if payload:
        _emit("progress", payload)


def metrics(**values: float) -> None:
    """Report numeric metrics, e.g. ``metrics(bad_lines=3, bytes_read=1024)``."""
    payload: Dict[str, float] = {}
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"metric {key!r} must be a number")
        if not math.isfinite(value):
            raise ValueError(f"metric {key!r} must be finite")
        payload[key] = value
    if payload:
        _emit("metrics", payload)
