"""Row 3 reference (a): one plain Python process looping over the files.

usage: files_loop.py IN_DIR OUT_DIR
Runs bench/plugins/files.py's parse on every *.csv of IN_DIR, in name order,
and writes each result as snappy Parquet with pyarrow. Prints the loop's
seconds (after imports), rows out and Parquet bytes.
"""
import os
import sys
import time

import pyarrow.parquet as pq

from _peer import emit, plugin


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    parse = plugin("files")["parse"]
    files = sorted(f for f in os.listdir(src) if f.endswith(".csv"))
    os.makedirs(out, exist_ok=True)
    rows = 0
    t0 = time.perf_counter()
    for name in files:
        table = parse(os.path.join(src, name))
        pq.write_table(table, os.path.join(out, name[:-4] + ".parquet"), compression="snappy")
        rows += table.num_rows
    seconds = time.perf_counter() - t0
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    emit({"seconds": seconds, "files": len(files), "rows": rows, "parquet_bytes": size})


if __name__ == "__main__":
    main()
