"""One job: load the plugin, run ``parse``, send its outputs and the verdict.

Contract of ``run_job(spec, channel)`` (docs/bridge-protocol.md, "Guest →
worker"): the spec needs ``source`` and ``input_path`` (``plugin_name`` and
``limits`` are optional). It sends, in order, any LOG frames about limits,
whatever the plugin logs, the outputs (OutputMux), then either METRICS + DONE
and returns True, or one ERROR and returns False. Every exception of the
plugin or its data, SystemExit and KeyboardInterrupt included, ends in ERROR
(only a failing channel raises to the caller). The ``casparian`` SDK's
log/progress/metrics go to ``channel`` for the duration of the call only.
"""
from __future__ import annotations

import importlib.util
import linecache
import math
import re
import sys
import time
import types
from typing import Any, Dict, List

import casparian

from .errors import error_payload
from .frames import DONE, ERROR, LOG, METRICS, SDK_KINDS, Channel
from .limits import apply_limits
from .outputs import PYARROW_IMPORT_ERROR, OutputMux, write_result

_MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")

#: Names load_plugin put in sys.modules, for forget_plugins.
_REGISTERED: List[str] = []


def _module_exists(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name.split(".")[0]) is not None
    except (ImportError, ValueError):
        return True


def load_plugin(name: str, source: str) -> types.ModuleType:
    """compile()+exec the source into a fresh module named after the plugin.

    The module is ``name`` (or ``casparian_plugin`` when ``name`` is no valid
    module name), with ``__file__ = "<plugin:NAME>"`` and its source lines in
    linecache, so tracebacks show them. It is put in ``sys.modules`` (for
    dataclasses, pickle and typing) only when no module of that name exists or
    could be imported: a plugin named ``csv``, ``casparian`` or
    ``casparian_bridge`` never replaces the real one.
    """
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
        _REGISTERED.append(module_name)
    code = compile(source, filename, "exec", dont_inherit=True)
    exec(code, module.__dict__)
    return module


def forget_plugins() -> None:
    """Remove the plugin modules load_plugin registered from sys.modules.

    A reused guest (fork_child.py) calls this between jobs, so that the next
    job's plugin module is registered under its name again instead of finding
    the previous job's module there. Whatever else the plugin changed stays:
    that is what ``reuse`` trades for speed.
    """
    while _REGISTERED:
        sys.modules.pop(_REGISTERED.pop(), None)


def run_job(spec: Dict[str, Any], channel: Channel) -> bool:
    """Run the plugin of a job spec, sending outputs and DONE or ERROR. True on success."""
    started = time.monotonic()
    casparian._set_emitter(lambda kind, payload: channel.send_json(SDK_KINDS[kind], payload))
    try:
        if PYARROW_IMPORT_ERROR is not None:
            raise casparian.PermanentError(f"pyarrow cannot be imported in this environment: {PYARROW_IMPORT_ERROR}")
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
