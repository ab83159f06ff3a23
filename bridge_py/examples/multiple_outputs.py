"""Example: several named outputs.

Good rows go to "readings", rows that cannot be parsed to "rejects" (with the
reason), and a one-row "summary". Return a list of Output(name, data); a
generator may also yield Outputs, interleaving names freely.

    python bridge_py/bridge_shim.py --local bridge_py/examples/multiple_outputs.py readings.txt --out /tmp/out

Input lines look like "sensor-1,21.5".
"""
from typing import List

import pyarrow as pa

from casparian import Output, metrics


def parse(path: str) -> List[Output]:
    sensors: List[str] = []
    values: List[float] = []
    bad_lines: List[int] = []
    reasons: List[str] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            sensor, _, value = line.partition(",")
            try:
                values.append(float(value))
                sensors.append(sensor)
            except ValueError:
                bad_lines.append(number)
                reasons.append(f"not a number: {value!r}")
    metrics(rejected_lines=len(bad_lines))
    return [
        Output("readings", pa.table({"sensor": pa.array(sensors, pa.string()), "value": pa.array(values, pa.float64())})),
        Output("rejects", pa.table({"line_no": pa.array(bad_lines, pa.int64()), "reason": pa.array(reasons, pa.string())})),
        Output("summary", pa.table({"good": [len(values)], "bad": [len(bad_lines)]})),
    ]
