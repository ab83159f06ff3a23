"""Bench rows 4-6: a plugin that streams a large output shaped like the files
workload (ints, timestamps, floats, short strings).

The input file is JSON: {"bytes": N, "rows_per_batch": R, "distinct": D}. The
plugin builds D distinct batches of R rows up front, then yields them in turn
until N bytes of Arrow (RecordBatch.nbytes) have gone out. Just before its
first yield it writes time.time() to INPUT.first, where the bench reads it.
bench/peers/gen_csv.py and parquet_write.py use workload_batch and batches()
from this file, so the CSV files, the streamed output and the reference
Parquet writer all see the same data.
"""
import json
import time

import pyarrow as pa
import pyarrow.compute as pc

WORDS = pa.array(["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta",
                  "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "pi"])


def workload_batch(rows: int, seed: int) -> pa.RecordBatch:
    """`rows` rows of the workload's shape, the same for the same seed."""
    def uniform(k):
        return pc.random(rows, initializer=seed * 8 + k)

    def ints(k, scale):
        return pc.cast(pc.floor(pc.multiply(uniform(k), scale)), pa.int64())

    start = seed * rows
    return pa.record_batch({
        "id": pa.array(range(start, start + rows), type=pa.int64()),
        "ts": pc.cast(pc.add(ints(1, 86400 * 365), 1_700_000_000), pa.timestamp("s")),
        "value": pc.round(pc.multiply(uniform(2), 1000.0), 2),
        "score": pc.subtract(pc.multiply(uniform(3), 2.0), 1.0),
        "qty": ints(4, 100),
        "category": pc.take(WORDS, ints(5, len(WORDS))),
        "code": pc.binary_join_element_wise("c", pc.cast(ints(6, 1_000_000), pa.string()), ""),
    })


def batches(spec):
    """The batches a spec asks for, in order (the distinct ones are built first)."""
    distinct = [workload_batch(int(spec.get("rows_per_batch", 65536)), seed) for seed in range(int(spec.get("distinct", 8)))]
    sent, i = 0, 0
    while sent < int(spec["bytes"]):
        batch = distinct[i % len(distinct)]
        sent += batch.nbytes
        i += 1
        yield batch


def parse(path):
    with open(path) as f:
        spec = json.load(f)
    for i, batch in enumerate(batches(spec)):
        if i == 0:
            with open(path + ".first", "w") as f:
                f.write(repr(time.time()))
        yield batch
