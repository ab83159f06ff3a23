"""Example: stream batches with a generator.

parse() is a generator: each yielded RecordBatch is sent to the worker as soon
as it is produced, so a file larger than memory is never held whole. Progress
goes to the job's event stream.

    python bridge_py/bridge_shim.py --local bridge_py/examples/generator_batches.py big.log
"""
import os
from typing import Iterator, List

import pyarrow as pa

from casparian import progress

BATCH_ROWS = 10_000
SCHEMA = pa.schema([("line_no", pa.int64()), ("length", pa.int32()), ("text", pa.string())])


def _batch(numbers: List[int], texts: List[str]) -> pa.RecordBatch:
    return pa.record_batch(
        [pa.array(numbers, pa.int64()), pa.array([len(t) for t in texts], pa.int32()), pa.array(texts, pa.string())],
        schema=SCHEMA,
    )


def parse(path: str) -> Iterator[pa.RecordBatch]:
    total = os.path.getsize(path) or 1
    numbers: List[int] = []
    texts: List[str] = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            numbers.append(number)
            texts.append(raw.rstrip(b"\r\n").decode("utf-8", errors="replace"))
            if len(numbers) == BATCH_ROWS:
                yield _batch(numbers, texts)
                progress(rows=number, fraction=min(f.tell() / total, 1.0))
                numbers, texts = [], []
    if numbers:
        yield _batch(numbers, texts)
    progress(fraction=1.0, message="done")
