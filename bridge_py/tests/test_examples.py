"""Every example plugin runs, through the shim's --local mode, and produces what its docstring says."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from _support import EXAMPLES_DIR, SHIM_PATH, read_stream


class ExamplesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="bridge-examples-")

    def tearDown(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def run_example(self, example: str, input_path: str):
        out = os.path.join(self.dir, "out")
        result = subprocess.run(
            [sys.executable, SHIM_PATH, "--local", os.path.join(EXAMPLES_DIR, example), input_path, "--out", out],
            capture_output=True,
            text=True,
            timeout=120,
        )
        outputs = {}
        if os.path.isdir(out):
            for name in os.listdir(out):
                with open(os.path.join(out, name), "rb") as f:
                    outputs[name[: -len(".arrows")]] = read_stream(f.read())
        return result, outputs

    def test_table_return(self) -> None:
        result, outputs = self.run_example("table_return.py", self.write("in.csv", "id,name\n1,a\n,b\n"))
        self.assertEqual(result.returncode, 0, result.stderr)
        table = outputs["default"]
        self.assertEqual(table.column("source_row").to_pylist(), [1, 2])
        self.assertEqual(table.column("first_column_is_null").to_pylist(), [False, True])

    def test_generator_batches(self) -> None:
        lines = "".join(f"line {i}\n" for i in range(25_001))
        result, outputs = self.run_example("generator_batches.py", self.write("big.log", lines))
        self.assertEqual(result.returncode, 0, result.stderr)
        table = outputs["default"]
        self.assertEqual(table.num_rows, 25_001)
        self.assertEqual(table.column("text")[25_000].as_py(), "line 25000")
        self.assertIn('OUTPUT_END {"name": "default", "rows": 25001, "batches": 3}', result.stderr)
        self.assertIn("PROGRESS", result.stderr)

    def test_multiple_outputs(self) -> None:
        result, outputs = self.run_example("multiple_outputs.py", self.write("r.txt", "s1,1.5\ns2,oops\n\ns3,2\n"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(outputs["readings"].to_pydict(), {"sensor": ["s1", "s3"], "value": [1.5, 2.0]})
        self.assertEqual(outputs["rejects"].column("line_no").to_pylist(), [2])
        self.assertEqual(outputs["summary"].to_pydict(), {"good": [2], "bad": [1]})

    def test_transient_error(self) -> None:
        data = self.write("in.csv", "a\n1\n")
        result, _ = self.run_example("transient_error.py", data)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.write("in.csv.lock", "")
        result, outputs = self.run_example("transient_error.py", data)
        self.assertEqual(result.returncode, 1)
        self.assertIn('"error_class": "transient"', result.stderr)
        self.assertIn('"retryable": true', result.stderr)
        result, _ = self.run_example("transient_error.py", self.write("empty.csv", ""))
        self.assertIn('"error_class": "permanent"', result.stderr)


if __name__ == "__main__":
    unittest.main()
