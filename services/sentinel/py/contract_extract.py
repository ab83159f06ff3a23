"""Reads a plugin's declared output contracts from its source without running
it: the source is parsed (ast), never imported, and only the literal values
of the module-level assignments ``OUTPUTS = {...}`` and ``QUARANTINE = {...}``
are read (ast.literal_eval: literals only, no names or calls).

    OUTPUTS = {
        "orders": [("order_id", "int64", False), ("amount", "decimal128(12, 2)", True)],
    }
    QUARANTINE = {"orders": {"max_fraction": 0.05, "max_rows": 1000}}

Source on stdin; one JSON line on stdout: ``{"outputs": {...} | null,
"quarantine": {...} | null}`` or ``{"error": MESSAGE}``. The Sentinel
(services/sentinel/plugins/contracts.ts) checks names and types. Standard
library only: it runs on the Sentinel's own python3.
"""
from __future__ import annotations

import ast
import json
import sys
from typing import Any, Dict, Optional


class Bad(Exception):
    pass


def _assigned(tree: ast.Module, name: str) -> Optional[ast.expr]:
    found: Optional[ast.expr] = None
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        for t in targets:
            if isinstance(t, ast.Name) and t.id == name:
                if found is not None:
                    raise Bad(f"{name} is assigned more than once at module level (line {node.lineno}); declare it once")
                if node.value is None:
                    raise Bad(f"{name} is annotated without a value (line {node.lineno})")
                found = node.value
    return found


def _literal(name: str, node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError) as e:
        raise Bad(f"{name} (line {node.lineno}) must be a literal (strings, numbers, lists, tuples, dicts, True/False), "
                  f"with no names or calls: {e}") from None


def _column(output: str, i: int, c: Any) -> Dict[str, Any]:
    where = f"OUTPUTS[{output!r}] column {i + 1}"
    if isinstance(c, (tuple, list)) and len(c) in (2, 3):
        name, type_name, nullable = c[0], c[1], c[2] if len(c) == 3 else True
    elif isinstance(c, dict) and {"name", "type"} <= set(c) and set(c) <= {"name", "type", "nullable"}:
        name, type_name, nullable = c["name"], c["type"], c.get("nullable", True)
    else:
        raise Bad(f'{where}: expected ("name", "type", nullable) or {{"name": …, "type": …, "nullable": …}}, got {c!r}')
    if not isinstance(name, str) or not isinstance(type_name, str) or not isinstance(nullable, bool):
        raise Bad(f"{where}: name and type must be strings and nullable True or False, got {c!r}")
    return {"name": name, "type": type_name, "nullable": nullable}


def extract(source: str) -> Dict[str, Any]:
    try:
        tree = ast.parse(source)
    except SyntaxError as e:
        raise Bad(f"the source does not parse: {e.msg} (line {e.lineno})") from None
    out: Dict[str, Any] = {"outputs": None, "quarantine": None}
    node = _assigned(tree, "OUTPUTS")
    if node is not None:
        value = _literal("OUTPUTS", node)
        if not isinstance(value, dict):
            raise Bad(f"OUTPUTS must be a dict of output name -> columns, got {type(value).__name__}")
        outputs: Dict[str, Any] = {}
        for output, columns in value.items():
            if not isinstance(output, str):
                raise Bad(f"OUTPUTS: output names must be strings, got {output!r}")
            if not isinstance(columns, (list, tuple)):
                raise Bad(f"OUTPUTS[{output!r}] must be a list of columns, got {type(columns).__name__}")
            outputs[output] = [_column(output, i, c) for i, c in enumerate(columns)]
        out["outputs"] = outputs
    node = _assigned(tree, "QUARANTINE")
    if node is not None:
        value = _literal("QUARANTINE", node)
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, dict) for k, v in value.items()):
            raise Bad('QUARANTINE must be a dict of output name -> {"max_fraction": F, "max_rows": N}')
        out["quarantine"] = value
    return out


def main() -> None:
    try:
        result: Dict[str, Any] = extract(sys.stdin.read())
    except Bad as e:
        result = {"error": str(e)}
    except RecursionError:
        result = {"error": "the source nests too deeply to parse"}
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
