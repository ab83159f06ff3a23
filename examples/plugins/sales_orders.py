"""Casparian example plugin: clean messy sales CSV exports into typed tables.

Each input file is one store's daily export. Column names vary in case and
spacing, amounts may carry currency symbols or thousands separators, and some
rows are broken. Good rows go to the "orders" output; rows that cannot be
parsed go to "rejects" with the reason, so nothing is silently dropped.

OUTPUTS declares both outputs' columns: the Sentinel reads it at publish
(without running this file) and checks every committed batch against it, so
a change in what this plugin emits fails loudly (SCHEMA_MISMATCH) instead of
drifting into the dataset.
"""
import csv
import datetime as dt
import os

import pyarrow as pa

import casparian

ORDERS = pa.schema([
    ("store", pa.string()),
    ("order_id", pa.int64()),
    ("order_date", pa.date32()),
    ("sku", pa.string()),
    ("quantity", pa.int32()),
    ("amount", pa.float64()),
])
REJECTS = pa.schema([("store", pa.string()), ("line", pa.int32()), ("reason", pa.string()), ("raw", pa.string())])

OUTPUTS = {
    "orders": [
        ("store", "string", False),
        ("order_id", "int64", False),
        ("order_date", "date32", False),
        ("sku", "string", False),
        ("quantity", "int32", False),
        ("amount", "float64", False),
    ],
    "rejects": [("store", "string", False), ("line", "int32", False), ("reason", "string", False), ("raw", "string", False)],
}

ALIASES = {
    "order id": "order_id", "orderid": "order_id", "id": "order_id",
    "date": "order_date", "order date": "order_date",
    "sku": "sku", "item": "sku",
    "qty": "quantity", "quantity": "quantity",
    "amount": "amount", "total": "amount", "amount (usd)": "amount",
}


def _amount(text: str) -> float:
    cleaned = text.strip().replace("$", "").replace(",", "")
    if cleaned.startswith("(") and cleaned.endswith(")"):
        cleaned = "-" + cleaned[1:-1]
    return float(cleaned)


def _date(text: str) -> dt.date:
    text = text.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%Y/%m/%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise ValueError(f"unrecognised date {text!r}")


def parse(path: str):
    store = os.path.splitext(os.path.basename(path))[0]
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [ALIASES.get(h.strip().lower(), h.strip().lower()) for h in next(reader)]
        missing = {"order_id", "order_date", "sku", "quantity", "amount"} - set(header)
        if missing:
            raise casparian.PermanentError(f"{path}: missing columns {sorted(missing)}")
        good = {name: [] for name in ORDERS.names}
        bad = {name: [] for name in REJECTS.names}
        for line, row in enumerate(reader, start=2):
            if not any(cell.strip() for cell in row):
                continue
            try:
                if len(row) != len(header):
                    raise ValueError(f"expected {len(header)} fields, found {len(row)}")
                rec = dict(zip(header, row))
                values = (
                    store,
                    int(rec["order_id"]),
                    _date(rec["order_date"]),
                    rec["sku"].strip().upper(),
                    int(rec["quantity"]),
                    _amount(rec["amount"]),
                )
            except ValueError as e:
                for name, value in zip(REJECTS.names, (store, line, str(e), ",".join(row))):
                    bad[name].append(value)
                continue
            for name, value in zip(ORDERS.names, values):
                good[name].append(value)
    casparian.progress(rows=len(good["store"]), fraction=1.0, message=f"{store}: {len(bad['store'])} rejected")
    return [
        casparian.Output("orders", pa.table(good, schema=ORDERS)),
        casparian.Output("rejects", pa.table(bad, schema=REJECTS)),
    ]
