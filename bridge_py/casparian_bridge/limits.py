"""Resource limits of one run: the job spec's ``limits`` applied with setrlimit.

Contract (docs/bridge-protocol.md, "Resource limits"):

- ``apply_limits(spec["limits"])`` runs once per process, after pyarrow is
  imported and before any plugin code; it returns notes to send as warn LOG
  frames, or raises ``LimitSetupError`` (a PermanentError: the plugin is not
  run without a limit it asked for).
- ``limit_breach(exc)`` names the limit an exception ran into, using the
  limits ``apply_limits`` recorded; ``errors.error_payload`` turns a named
  breach into error_class ``resource_limit``.
"""
from __future__ import annotations

import errno
import math
import signal
import threading
from typing import Any, Dict, List, Optional

import casparian

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
