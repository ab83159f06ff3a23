"""Resource limits in the shim: apply_limits and the resource_limit errors of a breach.

Limits apply to the whole process, so every run that sets one happens in a
child interpreter; only the validation (which fails before setrlimit) runs here.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap
import unittest
from typing import Any, Dict, List, Tuple

from _support import BRIDGE_DIR, bridge_shim

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))

# Runs one job in a child interpreter and prints its JSON frames, one per line.
CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, {tests_dir!r})
    from _support import RecordingChannel, bridge_shim
    {prelude}
    spec = json.loads(sys.argv[1])
    channel = RecordingChannel()
    ok = bridge_shim.run_job(spec, channel)
    for kind, payload in channel.frames:
        if kind != bridge_shim.ARROW:
            print(json.dumps([bridge_shim.KIND_NAMES[kind], json.loads(payload)]))
    """
)


def run_child(source: str, limits: Dict[str, int], prelude: str = "") -> Tuple[int, List[Tuple[str, Dict[str, Any]]], str]:
    code = CHILD.format(tests_dir=TESTS_DIR, prelude=prelude)
    spec = {"plugin_name": "limited", "source": textwrap.dedent(source), "input_path": "/dev/null", "limits": limits}
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(spec)],
        cwd=BRIDGE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    frames = [tuple(json.loads(line)) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, frames, proc.stderr  # type: ignore[return-value]


def last_error(frames: List[Tuple[str, Dict[str, Any]]]) -> Dict[str, Any]:
    errors = [payload for kind, payload in frames if kind == "ERROR"]
    assert errors, f"no ERROR frame in {frames}"
    return errors[-1]


class ApplyLimitsValidation(unittest.TestCase):
    def test_nothing_requested_changes_nothing(self) -> None:
        self.assertEqual(bridge_shim.apply_limits(None), [])
        self.assertEqual(bridge_shim.apply_limits({}), [])
        self.assertEqual(bridge_shim.apply_limits({"memory_mb": 0, "cpu_seconds": 0, "open_files": 0}), [])

    def test_bad_values_are_refused_before_anything_is_applied(self) -> None:
        for bad in ([1], {"memory_mb": -1}, {"cpu_seconds": "1"}, {"open_files": 1.5}, {"open_files": True}):
            with self.assertRaises(bridge_shim.LimitSetupError, msg=repr(bad)):
                bridge_shim.apply_limits(bad)


class LimitBreaches(unittest.TestCase):
    def test_memory_hog_is_a_resource_limit_naming_the_limit(self) -> None:
        rc, frames, stderr = run_child(
            """
            import pyarrow as pa
            def parse(path):
                hog = bytearray(8 << 30)
                return pa.table({"n": [len(hog)]})
            """,
            {"memory_mb": 1024},
        )
        self.assertEqual(rc, 0, stderr)
        err = last_error(frames)
        self.assertEqual((err["error_class"], err["type"], err["retryable"]), ("resource_limit", "MemoryError", False))
        self.assertIn("memory limit of 1024 MiB", err["message"])

    def test_too_many_open_files_is_a_resource_limit_naming_the_limit(self) -> None:
        rc, frames, stderr = run_child(
            """
            def parse(path):
                return [open(path, "rb") for _ in range(200)]
            """,
            {"open_files": 64},
        )
        self.assertEqual(rc, 0, stderr)
        err = last_error(frames)
        self.assertEqual((err["error_class"], err["type"]), ("resource_limit", "OSError"))
        self.assertIn("open-files limit of 64", err["message"])

    def test_a_wrapped_breach_is_still_a_resource_limit(self) -> None:
        rc, frames, stderr = run_child(
            """
            def parse(path):
                try:
                    files = [open(path, "rb") for _ in range(200)]
                except OSError as exc:
                    raise RuntimeError("could not open the parts") from exc
            """,
            {"open_files": 64},
        )
        err = last_error(frames)
        self.assertEqual((err["error_class"], err["type"]), ("resource_limit", "RuntimeError"), stderr)

    def test_a_memory_limit_below_what_the_interpreter_uses_is_refused_clearly(self) -> None:
        rc, frames, stderr = run_child("def parse(path):\n    raise AssertionError('plugin ran')\n", {"memory_mb": 16})
        err = last_error(frames)
        self.assertEqual((err["error_class"], err["type"]), ("permanent", "LimitSetupError"), stderr)
        self.assertIn("memory limit of 16 MiB", err["message"])
        self.assertIn("already use", err["message"])

    def test_a_limit_above_the_hard_limit_keeps_the_lower_one(self) -> None:
        prelude = "import resource\nresource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))"
        rc, frames, stderr = run_child(
            """
            import resource
            import pyarrow as pa
            def parse(path):
                return pa.table({"soft": [resource.getrlimit(resource.RLIMIT_NOFILE)[0]]})
            """,
            {"open_files": 5000},
            prelude,
        )
        self.assertEqual(rc, 0, stderr)
        self.assertEqual([k for k, _ in frames][-1], "DONE", frames)
        notes = [p["message"] for k, p in frames if k == "LOG" and p["level"] == "warn"]
        self.assertTrue(any("current hard RLIMIT_NOFILE of 100" in n for n in notes), notes)

    @unittest.skipUnless(hasattr(signal, "SIGXCPU"), "no SIGXCPU on this platform")
    def test_cpu_limit_kills_a_spinning_plugin_with_sigxcpu(self) -> None:
        rc, frames, stderr = run_child(
            """
            def parse(path):
                while True:
                    pass
            """,
            {"cpu_seconds": 1},
        )
        self.assertEqual(rc, -signal.SIGXCPU, stderr)
        self.assertNotIn("DONE", [k for k, _ in frames])


if __name__ == "__main__":
    unittest.main()
