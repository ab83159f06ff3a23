"""An exception raised by (or on behalf of) the plugin → the ERROR frame's payload.

The payload (docs/bridge-protocol.md, "Errors"):
``{error_class, code, type, message, traceback, retryable}`` where

- ``casparian.TransientError`` → ``transient``, retryable;
- a breach of a limit (``limits.limit_breach``: MemoryError, EMFILE, possibly
  as the cause of another exception) → ``resource_limit``, not retryable, the
  message prefixed with the limit's name;
- ``casparian.PermanentError`` and every other exception → ``permanent``.

``message`` and ``traceback`` are cut to ``MAX_MESSAGE_CHARS`` and
``MAX_TRACEBACK_CHARS`` so that no JSON frame comes near the frame cap. The
traceback starts in the plugin: the leading frames that belong to this
package are dropped (all of them are kept when the error arose in the shim
itself, e.g. a return value that cannot become Arrow data).
"""
from __future__ import annotations

import os
import traceback
import types
from typing import Any, Dict, Optional

import casparian

from .limits import limit_breach

#: Text fields are cut to these sizes so that no JSON frame comes near the cap.
MAX_MESSAGE_CHARS = 64 * 1024
MAX_TRACEBACK_CHARS = 256 * 1024

#: This package's directory: code in it is the shim's, not the plugin's.
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def cut(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its head and tail around a note."""
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head - 40
    return f"{text[:head]}\n... [{len(text) - head - tail} characters cut] ...\n{text[-tail:]}"


def _is_shim_frame(tb: types.TracebackType) -> bool:
    return os.path.dirname(os.path.abspath(tb.tb_frame.f_code.co_filename)) == _PACKAGE_DIR


def _plugin_frames(tb: Optional[types.TracebackType]) -> Optional[types.TracebackType]:
    """Drop the shim's own leading frames, so the traceback starts in the plugin."""
    first = tb
    while tb is not None and _is_shim_frame(tb):
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
        "message": cut(message, MAX_MESSAGE_CHARS),
        "traceback": cut(tb, MAX_TRACEBACK_CHARS),
        "retryable": retryable,
    }
