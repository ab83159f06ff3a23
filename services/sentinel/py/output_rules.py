"""Output rules the Parquet helper applies to each record batch as it
arrives, so that they cost no extra pass over the bytes: a plugin's output
contract (declared columns, safe casts, non-null checks), quarantine of bad
rows, and the lineage columns every committed row carries.

A batch splits into rows to keep, written to the output, and rows to set
aside, written to ``{output}_quarantine`` with the reason and the source row
number. A row is set aside when its ``_cf_row_error`` column is non-empty,
when a value does not cast to its declared type, or when a non-nullable
column is null. A difference in the columns themselves (missing, extra, an
incompatible type, a reserved name) is a SchemaMismatch: the whole output
fails, with the differences listed column by column.

Standard library and pyarrow only.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

import pyarrow as pa
import pyarrow.compute as pc

ROW_ERROR = "_cf_row_error"
RESERVED_PREFIX = "_cf_"
REASON = "_cf_reason"
SOURCE_ROW = "_cf_source_row"
LINEAGE = ("_cf_job_id", "_cf_source_hash", "_cf_plugin_version")


class SchemaMismatch(Exception):
    """The output's columns do not match its contract (or use a reserved name)."""


_PARAM = re.compile(r"^(decimal128|decimal256)\((\d+),\s*(-?\d+)\)$")
_TIMESTAMP = re.compile(r"^timestamp\[(s|ms|us|ns)(?:,\s*tz=([^\]]+))?\]$")


def parse_type(name: str) -> pa.DataType:
    """A pyarrow type from its name as a contract writes it: an alias
    (``int64``, ``string``, ``date32``, ``timestamp[us]``), ``timestamp[us, tz=UTC]``
    or ``decimal128(12, 2)``."""
    text = name.strip()
    m = _PARAM.match(text)
    if m:
        make = pa.decimal128 if m.group(1) == "decimal128" else pa.decimal256
        return make(int(m.group(2)), int(m.group(3)))
    m = _TIMESTAMP.match(text)
    if m:
        return pa.timestamp(m.group(1), tz=m.group(2).strip() if m.group(2) else None)
    return pa.type_for_alias(text)


def _stringish(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _int_fits(src: pa.DataType, dst: pa.DataType) -> bool:
    """Every value of integer type src fits in integer type dst."""
    if pa.types.is_signed_integer(src) and pa.types.is_unsigned_integer(dst):
        return False
    if pa.types.is_unsigned_integer(src) and pa.types.is_signed_integer(dst):
        return dst.bit_width > src.bit_width
    return dst.bit_width >= src.bit_width


def cast_kind(src: pa.DataType, dst: pa.DataType) -> Optional[str]:
    """How a column of type src becomes dst: 'same', 'cast' (every value
    converts), 'parse' (per value; a value that does not convert sets its row
    aside), or None when the types are incompatible."""
    if src.equals(dst):
        return "same"
    if pa.types.is_dictionary(src):
        return cast_kind(src.value_type, dst) and "parse"
    if pa.types.is_null(src):
        return "cast"
    if _stringish(src):
        if _stringish(dst):
            return "cast"
        if (pa.types.is_integer(dst) or pa.types.is_floating(dst) or pa.types.is_boolean(dst) or pa.types.is_decimal(dst)
                or pa.types.is_timestamp(dst) or pa.types.is_date(dst) or pa.types.is_time(dst)):
            return "parse"
        return None
    if pa.types.is_integer(src):
        if pa.types.is_integer(dst):
            return "cast" if _int_fits(src, dst) else None
        if pa.types.is_floating(dst) and dst.bit_width == 64:
            return "cast"
        if pa.types.is_decimal(dst):
            return "parse"
        return None
    if pa.types.is_floating(src):
        return "cast" if pa.types.is_floating(dst) and dst.bit_width >= src.bit_width else None
    if pa.types.is_decimal(src) and pa.types.is_decimal(dst):
        return "cast" if dst.scale >= src.scale and dst.precision - dst.scale >= src.precision - src.scale else None
    if pa.types.is_timestamp(src) and pa.types.is_timestamp(dst):
        return "parse"  # a coarser unit may truncate: those values are set aside
    if pa.types.is_date(src) and (pa.types.is_timestamp(dst) or pa.types.is_date(dst)):
        return "cast"
    return None  # e.g. numbers to text, narrowing, floats to integers: a change of meaning, not a cast


def _cast_or_mask(arr: pa.Array, dst: pa.DataType) -> Tuple[pa.Array, List[int]]:
    """arr cast to dst, with the values that do not convert as nulls, and
    their indices. Halves the array around failures, so a few bad values in
    a large batch cost a few dozen casts, not one per value."""
    try:
        return pc.cast(arr, dst, safe=True), []
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if len(arr) == 1:
        return pa.nulls(1, dst), [0]
    mid = len(arr) // 2
    left, bad_left = _cast_or_mask(arr.slice(0, mid), dst)
    right, bad_right = _cast_or_mask(arr.slice(mid), dst)
    return pa.concat_arrays([left, right]), bad_left + [mid + i for i in bad_right]


class Contract:
    """One output's declared columns."""

    def __init__(self, columns: List[Dict[str, Any]]):
        self.columns = [(c["name"], parse_type(c["type"]), bool(c.get("nullable", True)), c["type"]) for c in columns]
        self.fields = [pa.field(name, t, nullable=nullable) for name, t, nullable, _ in self.columns]


#: Lineage columns are dictionary-encoded with int8 indices: one value per
#: output, so each row costs one byte in Arrow (FetchOutput) and next to
#: nothing to write; pyarrow restores the type from the Parquet file, and
#: pandas, DuckDB and Arrow JS read it as text.
LINEAGE_TYPE = pa.dictionary(pa.int8(), pa.string())


def _constant(value: Optional[str], n: int) -> pa.Array:
    if value is None:
        return pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int8()), pa.array([], pa.string()))
    return pa.DictionaryArray.from_arrays(pa.nulls(n, pa.int8()).fill_null(0), pa.array([value], pa.string()))


class OutputRules:
    """The rules of one output: its contract (or none), its lineage values
    (or none) and its name, for messages. ``split(batch, first_row)`` returns
    (batch to keep, batch to set aside or None)."""

    def __init__(self, name: str, contract: Optional[List[Dict[str, Any]]], lineage: Optional[Dict[str, Optional[str]]]):
        self.name = name
        self.contract = Contract(contract) if contract is not None else None
        self.lineage = lineage
        self.checked_schema: Optional[pa.Schema] = None
        self.kinds: Dict[str, str] = {}

    def _check_schema(self, schema: pa.Schema) -> None:
        """Fails on reserved names and, with a contract, on any column-level difference; once per stream."""
        problems: List[str] = []
        for f in schema:
            if f.name.startswith(RESERVED_PREFIX) and f.name != ROW_ERROR:
                problems.append(f"column {f.name}: names starting with {RESERVED_PREFIX} are reserved")
        if ROW_ERROR in schema.names and not _stringish(schema.field(ROW_ERROR).type):
            problems.append(f"column {ROW_ERROR}: must be a string, got {schema.field(ROW_ERROR).type}")
        if self.contract is not None:
            sent = {f.name: f.type for f in schema if f.name != ROW_ERROR}
            declared = {name for name, _, _, _ in self.contract.columns}
            for name, t, _, type_name in self.contract.columns:
                if name not in sent:
                    problems.append(f"column {name}: declared {type_name}, missing from the output")
                    continue
                kind = cast_kind(sent[name], t)
                if kind is None:
                    problems.append(f"column {name}: declared {type_name}, got {sent[name]}, which does not convert safely")
                else:
                    self.kinds[name] = kind
            for name, t in sent.items():
                if name not in declared and not name.startswith(RESERVED_PREFIX):
                    problems.append(f"column {name}: not declared (type {t})")
        if problems:
            raise SchemaMismatch(f"output {self.name!r} does not match its contract: " + "; ".join(problems))
        self.checked_schema = schema

    def split(self, batch: pa.RecordBatch, first_row: int) -> Tuple[pa.RecordBatch, Optional[pa.RecordBatch]]:
        if self.checked_schema is None or not self.checked_schema.equals(batch.schema):
            self._check_schema(batch.schema)
        n = batch.num_rows
        reasons: Dict[int, List[str]] = {}
        if ROW_ERROR in batch.schema.names:
            col = batch.column(ROW_ERROR)
            flagged = pc.and_(pc.is_valid(col), pc.greater(pc.utf8_length(col), 0))
            for i in pc.indices_nonzero(flagged).to_pylist():
                reasons.setdefault(i, []).append(f"{ROW_ERROR}: {col[i].as_py()}")
        if self.contract is not None:
            arrays = []
            for name, t, nullable, type_name in self.contract.columns:
                src = batch.column(name)
                kind = self.kinds[name]
                bad: List[int] = []
                if kind == "same":
                    out = src
                elif kind == "cast":
                    out = pc.cast(src, t, safe=True)
                else:
                    out, bad = _cast_or_mask(src, t)
                    for i in bad:
                        reasons.setdefault(i, []).append(f"{name}: {src[i].as_py()!r} is not a valid {type_name}")
                if not nullable and out.null_count:
                    unparsed = set(bad)
                    for i in pc.indices_nonzero(pc.is_null(out)).to_pylist():
                        if i not in unparsed:
                            reasons.setdefault(i, []).append(f"{name}: null in a non-nullable column")
                arrays.append(out)
            fields = list(self.contract.fields)
        else:
            keep = [i for i, f in enumerate(batch.schema) if f.name != ROW_ERROR]
            arrays = [batch.column(i) for i in keep]
            fields = [batch.schema.field(i) for i in keep]
        if self.lineage is not None:
            for key in LINEAGE:
                arrays.append(_constant(self.lineage.get(key), n))
                fields.append(pa.field(key, LINEAGE_TYPE, nullable=key == "_cf_source_hash"))
        good = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
        if not reasons:
            return good, None
        bad_rows = sorted(reasons)
        keep = [True] * n
        for i in bad_rows:
            keep[i] = False
        good = good.filter(pa.array(keep, pa.bool_()))
        aside = batch.take(pa.array(bad_rows, pa.int64()))
        extra_arrays = [pa.array(["; ".join(reasons[i]) for i in bad_rows], pa.string()), pa.array([first_row + i for i in bad_rows], pa.int64())]
        extra_fields = [pa.field(REASON, pa.string(), nullable=False), pa.field(SOURCE_ROW, pa.int64(), nullable=False)]
        if self.lineage is not None:
            for key in LINEAGE:
                extra_arrays.append(_constant(self.lineage.get(key), len(bad_rows)))
                extra_fields.append(pa.field(key, LINEAGE_TYPE, nullable=key == "_cf_source_hash"))
        aside = pa.RecordBatch.from_arrays(list(aside.columns) + extra_arrays, schema=pa.schema(list(aside.schema) + extra_fields))
        return good, aside
