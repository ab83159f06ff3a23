"""Row 4 reference: pyarrow.parquet writing the streamed batches as snappy Parquet.

usage: parquet_write.py SPEC_JSON_FILE OUT_FILE
Builds the batches of bench/plugins/stream_output.py for the spec (not
timed), then times one ParquetWriter (snappy) writing them all and closing.
Prints seconds, the batches' Arrow IPC stream size and the Parquet size.
"""
import os
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq

from _peer import emit, plugin


def main() -> None:
    import json

    with open(sys.argv[1]) as f:
        spec = json.load(f)
    out = sys.argv[2]
    batches = list(plugin("stream_output")["batches"](spec))
    sink = pa.MockOutputStream()
    with pa.ipc.new_stream(sink, batches[0].schema) as w:
        for b in batches:
            w.write_batch(b)
    t0 = time.perf_counter()
    with pq.ParquetWriter(out, batches[0].schema, compression="snappy") as w:
        for b in batches:
            w.write_batch(b)
    seconds = time.perf_counter() - t0
    emit({"seconds": seconds, "arrow_bytes": sink.size(), "parquet_bytes": os.path.getsize(out), "batches": len(batches)})


if __name__ == "__main__":
    main()
