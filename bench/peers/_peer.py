"""Shared by the bench's peer scripts: load a bench plugin, report one result.

Every peer prints exactly one JSON object on its last stdout line: its
figures, or {"skipped": "why"} when the peer cannot run here (Ray missing).
"""
import json
import os
import runpy
import sys
from typing import Any, Dict

PLUGINS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plugins")


def plugin(name: str) -> Dict[str, Any]:
    """The globals of bench/plugins/NAME.py (the code the Casparian jobs run)."""
    return runpy.run_path(os.path.join(PLUGINS, name + ".py"))


def emit(result: Dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()

