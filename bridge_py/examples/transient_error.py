"""Example: tell the worker whether a failure is worth retrying.

TransientError means "try again later" (the job is retried with backoff): here,
the file is still being written by its producer, which leaves a "<file>.lock"
next to it. PermanentError (or any other exception) means the input itself is
bad and retrying cannot help.

    python bridge_py/bridge_shim.py --local bridge_py/examples/transient_error.py data.csv
"""
import os

import pyarrow as pa
import pyarrow.csv as csv

from casparian import PermanentError, TransientError


def parse(path: str) -> pa.Table:
    if os.path.exists(path + ".lock"):
        raise TransientError(f"{path} is still being written (lock file present)")
    if os.path.getsize(path) == 0:
        raise PermanentError(f"{path} is empty")
    return csv.read_csv(path)
