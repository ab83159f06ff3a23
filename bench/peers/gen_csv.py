"""Write the files workload: N CSV files of ROWS rows each (deterministic).

usage: gen_csv.py OUT_DIR N ROWS     prints {"files": N, "bytes": total}
File i holds workload_batch(ROWS, seed=i) of bench/plugins/stream_output.py.
"""
import os
import sys

import pyarrow as pa
import pyarrow.csv as csv

from _peer import emit, plugin


def main() -> None:
    out, n, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    workload_batch = plugin("stream_output")["workload_batch"]
    os.makedirs(out, exist_ok=True)
    total = 0
    for i in range(n):
        path = os.path.join(out, f"part-{i:04d}.csv")
        csv.write_csv(pa.Table.from_batches([workload_batch(rows, i)]), path)
        total += os.path.getsize(path)
    emit({"files": n, "bytes": total})


if __name__ == "__main__":
    main()
