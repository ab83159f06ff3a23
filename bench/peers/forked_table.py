"""Row 7b reference at isolation fork/reuse: the floor of a forked guest.

usage: forked_table.py N
In one process that has imported pyarrow, N times in a row: fork a child that
builds the trivial plugin's one-row table and writes it as an Arrow IPC
stream to a pipe, read it all in the parent, wait for the child. Reports the
per-child wall times in milliseconds (also of a bare fork + exit + wait).
"""
import os
import sys
import time

import pyarrow as pa

from _peer import emit


def one_table() -> float:
    t0 = time.perf_counter()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        table = pa.table({"path": ["x"], "n": [1]})
        with os.fdopen(w, "wb") as f, pa.ipc.new_stream(f, table.schema) as out:
            out.write_table(table)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    if not data:
        raise SystemExit("the forked child wrote nothing")
    return (time.perf_counter() - t0) * 1000


def bare_fork() -> float:
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return (time.perf_counter() - t0) * 1000


def main() -> None:
    n = int(sys.argv[1])
    for _ in range(3):
        one_table()
    emit({"tableMs": [one_table() for _ in range(n)], "bareForkMs": [bare_fork() for _ in range(n)]})


if __name__ == "__main__":
    main()
