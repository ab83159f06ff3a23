"""Bench row 2: records when plugin code starts running, then returns one row.

The time (time.time(), seconds) goes to INPUT.start, where the bench reads it;
dispatch latency is that time minus the job's created_at.
"""
import time

import pyarrow as pa


def parse(path):
    started = time.time()
    with open(path + ".start", "w") as f:
        f.write(repr(started))
    return pa.table({"path": [path], "n": [1]})
