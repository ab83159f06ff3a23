"""Row 8 references: a plain Python pass over a directory tree.

usage: scan_walk.py ROOT hash|stat
hash: os.walk + sha256 of every file's content (what a first scan must do);
stat: os.walk + os.stat of every file (what a re-scan of an unchanged tree
must do). Prints the seconds, the files seen and the process's peak RSS.
"""
import hashlib
import os
import resource
import sys
import time

from _peer import emit


def main() -> None:
    root, mode = sys.argv[1], sys.argv[2]
    files = 0
    t0 = time.perf_counter()
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for n in names:
            if n.startswith("."):
                continue
            p = os.path.join(d, n)
            if mode == "stat":
                os.stat(p)
            else:
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for block in iter(lambda: f.read(65536), b""):
                        h.update(block)
                h.hexdigest()
            files += 1
    seconds = time.perf_counter() - t0
    emit({"seconds": seconds, "files": files, "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024})


if __name__ == "__main__":
    main()
