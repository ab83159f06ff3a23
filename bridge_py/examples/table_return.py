"""Example: return one table.

parse() reads a CSV file and returns a pyarrow Table; it becomes the output
named "default". Try it without a worker:

    python bridge_py/bridge_shim.py --local bridge_py/examples/table_return.py data.csv --out /tmp/out

(a pandas or polars DataFrame may be returned the same way.)
"""
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv

from casparian import log


def parse(path: str) -> pa.Table:
    table = csv.read_csv(path)
    log(f"read {table.num_rows} rows with columns {table.column_names}")
    # Derived columns are plain pyarrow compute.
    return table.append_column("source_row", pa.array(range(1, table.num_rows + 1), type=pa.int64())).append_column(
        "first_column_is_null", pc.is_null(table.column(0))
    )
