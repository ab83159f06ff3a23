"""Bench row 3: the files workload. The plain-loop and Ray peers run this very
function (bench/peers/ load this file), so all three do the same work."""
import pyarrow.compute as pc
import pyarrow.csv as csv


def parse(path):
    table = csv.read_csv(path)
    return table.filter(pc.greater(table["value"], 250.0))
