"""Rows 1, 2 and 3b reference: Ray on this machine, started with 2 CPUs.

usage: ray_peers.py trivial N        {"tasks_per_s", "seconds", "n"}
       ray_peers.py latency N        {"samples_ms": [...]}   task queued -> task code running
       ray_peers.py files IN OUT     {"seconds", "files", "rows"}   one task per file
Each command starts Ray (ray.init(num_cpus=2)), warms its worker processes
up, measures, and shuts Ray down. Ray's start is never timed. When Ray cannot
be imported or started, prints {"skipped": "why"}.
"""
import os
import sys
import time

from _peer import PLUGINS, emit

IDLE_S = 0.05  # between latency samples; the Casparian row waits the same


def start_ray():
    try:
        import ray
    except Exception as e:  # noqa: BLE001 - any import failure means "no Ray here"
        emit({"skipped": f"ray cannot be imported: {type(e).__name__}: {e}"})
        sys.exit(0)
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=256 * 1024 * 1024)
    except Exception as e:  # noqa: BLE001
        emit({"skipped": f"ray.init failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"})
        sys.exit(0)
    return ray


def trivial(ray, n: int) -> dict:
    @ray.remote
    def one_row(i):
        import pyarrow as pa

        return pa.table({"path": [str(i)], "n": [1]})

    ray.get([one_row.remote(i) for i in range(min(n, 100))])  # warm-up
    t0 = time.perf_counter()
    ray.get([one_row.remote(i) for i in range(n)])
    seconds = time.perf_counter() - t0
    return {"tasks_per_s": n / seconds, "seconds": seconds, "n": n}


def latency(ray, n: int) -> dict:
    @ray.remote
    def stamp():
        started = time.time()
        import pyarrow as pa

        pa.table({"n": [1]})
        return started

    ray.get([stamp.remote() for _ in range(10)])  # warm-up
    samples = []
    for _ in range(n):
        queued = time.time()
        started = ray.get(stamp.remote())
        samples.append((started - queued) * 1000.0)
        time.sleep(IDLE_S)
    return {"samples_ms": samples}


def files(ray, src: str, out: str) -> dict:
    plugin_path = os.path.join(PLUGINS, "files.py")

    @ray.remote
    def one_file(path, dest):
        import runpy

        import pyarrow.parquet as pq

        table = runpy.run_path(plugin_path)["parse"](path)
        pq.write_table(table, dest, compression="snappy")
        return table.num_rows

    @ray.remote
    def warm():
        import runpy

        import pyarrow.parquet  # noqa: F401

        runpy.run_path(plugin_path)
        return 1

    ray.get([warm.remote() for _ in range(4)])
    names = sorted(f for f in os.listdir(src) if f.endswith(".csv"))
    os.makedirs(out, exist_ok=True)
    t0 = time.perf_counter()
    rows = sum(ray.get([one_file.remote(os.path.join(src, n), os.path.join(out, n[:-4] + ".parquet")) for n in names]))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "files": len(names), "rows": rows}


def main() -> None:
    cmd, args = sys.argv[1], sys.argv[2:]
    ray = start_ray()
    try:
        if cmd == "trivial":
            result = trivial(ray, int(args[0]))
        elif cmd == "latency":
            result = latency(ray, int(args[0]))
        elif cmd == "files":
            result = files(ray, args[0], args[1])
        else:
            raise SystemExit(f"unknown command {cmd}")
        result["ray_version"] = ray.__version__
        emit(result)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
