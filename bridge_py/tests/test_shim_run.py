"""The shim's plugin runner, driven through an in-memory channel (no socket)."""
import json
import subprocess
import sys
import textwrap
import unittest

from _support import BRIDGE_DIR, RecordingChannel, bridge_shim, read_stream, reassemble, run_source

import pyarrow as pa

import casparian


def src(text: str) -> str:
    return textwrap.dedent(text)


class ReturnTypesTest(unittest.TestCase):
    def test_returned_table_goes_to_default(self) -> None:
        ok, ch = run_source(src("""
            import pyarrow as pa
            def parse(path):
                return pa.table({"a": [1, 2, 3], "path": [path] * 3})
        """), input_path="/data/in.csv")
        self.assertTrue(ok)
        self.assertEqual(ch.kinds()[0], "OUTPUT_BEGIN")
        self.assertEqual(ch.kinds()[-2:], ["METRICS", "DONE"])
        table = read_stream(reassemble(ch.frames)["default"])
        self.assertEqual(table.to_pydict(), {"a": [1, 2, 3], "path": ["/data/in.csv"] * 3})
        self.assertEqual(ch.json_frames(bridge_shim.OUTPUT_END), [{"name": "default", "rows": 3, "batches": 1}])
        self.assertEqual(ch.json_frames(bridge_shim.DONE), [{"rows": 3, "outputs": [{"name": "default", "rows": 3, "batches": 1}]}])

    def test_returned_record_batch(self) -> None:
        ok, ch = run_source("import pyarrow as pa\ndef parse(path):\n    return pa.record_batch({'x': [1.5]})\n")
        self.assertTrue(ok)
        self.assertEqual(read_stream(reassemble(ch.frames)["default"]).to_pydict(), {"x": [1.5]})

    def test_empty_table_is_a_valid_empty_stream(self) -> None:
        ok, ch = run_source("import pyarrow as pa\ndef parse(path):\n    return pa.table({'x': pa.array([], pa.int32())})\n")
        self.assertTrue(ok)
        table = read_stream(reassemble(ch.frames)["default"])
        self.assertEqual(table.num_rows, 0)
        self.assertEqual(table.schema, pa.schema([("x", pa.int32())]))
        self.assertEqual(ch.json_frames(bridge_shim.DONE)[0]["outputs"], [{"name": "default", "rows": 0, "batches": 0}])

    def test_list_of_outputs(self) -> None:
        ok, ch = run_source(src("""
            import pyarrow as pa
            from casparian import Output
            def parse(path):
                return [Output("a", pa.table({"x": [1]})), Output("b", pa.table({"y": ["z"]}))]
        """))
        self.assertTrue(ok)
        streams = reassemble(ch.frames)
        self.assertEqual(read_stream(streams["a"]).to_pydict(), {"x": [1]})
        self.assertEqual(read_stream(streams["b"]).to_pydict(), {"y": ["z"]})

    def test_single_output_and_empty_list(self) -> None:
        ok, ch = run_source("import pyarrow as pa\nfrom casparian import Output\ndef parse(p):\n    return Output('only', pa.table({'x': [1]}))\n")
        self.assertTrue(ok)
        self.assertEqual(list(reassemble(ch.frames)), ["only"])
        ok, ch = run_source("def parse(p):\n    return []\n")
        self.assertTrue(ok)
        self.assertEqual(ch.json_frames(bridge_shim.DONE), [{"rows": 0, "outputs": []}])

    def test_record_batch_reader(self) -> None:
        ok, ch = run_source(src("""
            import pyarrow as pa
            def parse(path):
                schema = pa.schema([("n", pa.int64())])
                batches = [pa.record_batch({"n": [i]}, schema=schema) for i in range(3)]
                return pa.RecordBatchReader.from_batches(schema, iter(batches))
        """))
        self.assertTrue(ok)
        self.assertEqual(read_stream(reassemble(ch.frames)["default"]).to_pydict(), {"n": [0, 1, 2]})


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


class DataFrameTest(unittest.TestCase):
    @unittest.skipUnless(_has("pandas"), "pandas is not installed in this environment")
    def test_pandas_dataframe_without_index(self) -> None:
        ok, ch = run_source(src("""
            import pandas as pd
            def parse(path):
                return pd.DataFrame({"a": [1, 2]}, index=[10, 20])
        """))
        self.assertTrue(ok)
        table = read_stream(reassemble(ch.frames)["default"])
        self.assertEqual(table.column_names, ["a"])
        self.assertEqual(table.to_pydict(), {"a": [1, 2]})

    @unittest.skipUnless(_has("polars"), "polars is not installed in this environment")
    def test_polars_dataframe(self) -> None:
        ok, ch = run_source("import polars as pl\ndef parse(p):\n    return pl.DataFrame({'a': [1, 2]})\n")
        self.assertTrue(ok)
        self.assertEqual(read_stream(reassemble(ch.frames)["default"]).to_pydict(), {"a": [1, 2]})

    def test_dataframes_are_not_imported_by_the_shim(self) -> None:
        # to_arrow only looks at pandas/polars when the plugin imported them itself.
        with self.assertRaises(TypeError):
            bridge_shim.to_arrow({"a": [1]})
        # A fresh interpreter that loads the shim has imported neither, installed or not.
        code = "import sys, bridge_shim; print(sorted(m for m in ('pandas', 'polars') if m in sys.modules))"
        out = subprocess.run([sys.executable, "-c", code], cwd=BRIDGE_DIR, capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), "[]")


class GeneratorTest(unittest.TestCase):
    def test_interleaved_named_outputs_stay_valid_streams(self) -> None:
        ok, ch = run_source(src("""
            import pyarrow as pa
            from casparian import Output
            def parse(path):
                for i in range(5):
                    yield Output("even" if i % 2 == 0 else "odd", pa.record_batch({"i": [i]}))
                yield pa.table({"plain": ["default too"]})
        """))
        self.assertTrue(ok)
        streams = reassemble(ch.frames)
        self.assertEqual(read_stream(streams["even"]).to_pydict(), {"i": [0, 2, 4]})
        self.assertEqual(read_stream(streams["odd"]).to_pydict(), {"i": [1, 3]})
        self.assertEqual(read_stream(streams["default"]).to_pydict(), {"plain": ["default too"]})
        ends = ch.json_frames(bridge_shim.OUTPUT_END)
        self.assertEqual([e["name"] for e in ends], ["even", "odd", "default"])
        self.assertEqual(ends[0], {"name": "even", "rows": 3, "batches": 3})
        # "even" was begun again (a continuation) after "odd" started
        begins = [e["name"] for e in ch.json_frames(bridge_shim.OUTPUT_BEGIN)]
        self.assertEqual(begins[:4], ["even", "odd", "even", "odd"])

    def test_batches_are_sent_as_they_are_yielded(self) -> None:
        seen_before_second_yield = []
        channel = RecordingChannel()

        def parse(path):
            yield pa.record_batch({"n": [1]})
            seen_before_second_yield.append(len([k for k, _ in channel.frames if k == bridge_shim.ARROW]))
            yield pa.record_batch({"n": [2]})

        mux = bridge_shim.OutputMux(channel)
        bridge_shim.write_result(parse("x"), mux)
        mux.finish()
        self.assertGreater(seen_before_second_yield[0], 0)
        self.assertEqual(read_stream(reassemble(channel.frames)["default"]).to_pydict(), {"n": [1, 2]})

    def test_output_holding_a_generator_is_streamed(self) -> None:
        ok, ch = run_source(src("""
            import pyarrow as pa
            from casparian import Output
            def rows():
                for i in range(3):
                    yield pa.record_batch({"i": [i]})
            def parse(path):
                return [Output("streamed", rows())]
        """))
        self.assertTrue(ok)
        self.assertEqual(ch.json_frames(bridge_shim.OUTPUT_END), [{"name": "streamed", "rows": 3, "batches": 3}])

    def test_schema_change_within_an_output_is_a_permanent_error(self) -> None:
        ok, ch = run_source(src("""
            import pyarrow as pa
            def parse(path):
                yield pa.record_batch({"a": [1]})
                yield pa.record_batch({"a": ["text"]})
        """))
        self.assertFalse(ok)
        err = ch.json_frames(bridge_shim.ERROR)[0]
        self.assertEqual(err["error_class"], "permanent")
        self.assertIn("schema differs", err["message"])

    def test_large_output_is_split_into_frames_of_at_most_1_mib(self) -> None:
        ok, ch = run_source("import pyarrow as pa\ndef parse(p):\n    return pa.table({'x': pa.array(range(600_000), pa.int64())})\n")
        self.assertTrue(ok)
        arrows = [p for k, p in ch.frames if k == bridge_shim.ARROW]
        self.assertGreaterEqual(len(arrows), 5)
        self.assertTrue(all(len(p) <= bridge_shim.MAX_ARROW_PAYLOAD for p in arrows))
        self.assertEqual(read_stream(reassemble(ch.frames)["default"]).num_rows, 600_000)


class ErrorMappingTest(unittest.TestCase):
    def error_of(self, body: str) -> dict:
        ok, ch = run_source("import casparian\ndef parse(path):\n" + textwrap.indent(textwrap.dedent(body), "    "))
        self.assertFalse(ok)
        self.assertEqual(ch.kinds()[-1], "ERROR", "ERROR is the last frame")
        self.assertNotIn("DONE", ch.kinds())
        return ch.json_frames(bridge_shim.ERROR)[0]

    def test_transient(self) -> None:
        err = self.error_of("raise casparian.TransientError('flaky mount')")
        self.assertEqual(
            {k: err[k] for k in ("error_class", "code", "type", "message", "retryable")},
            {"error_class": "transient", "code": "PLUGIN_ERROR", "type": "TransientError", "message": "flaky mount", "retryable": True},
        )

    def test_permanent(self) -> None:
        err = self.error_of("raise casparian.PermanentError('bad file')")
        self.assertEqual((err["error_class"], err["retryable"]), ("permanent", False))

    def test_memory_error_is_a_resource_limit(self) -> None:
        err = self.error_of("raise MemoryError()")
        self.assertEqual((err["error_class"], err["type"], err["retryable"]), ("resource_limit", "MemoryError", False))

    def test_any_other_exception_is_permanent_with_traceback(self) -> None:
        err = self.error_of("def inner():\n    return 1 / 0\ninner()")
        self.assertEqual((err["error_class"], err["type"], err["retryable"]), ("permanent", "ZeroDivisionError", False))
        self.assertIn('File "<plugin:test_plugin>"', err["traceback"])
        self.assertIn("return 1 / 0", err["traceback"], "plugin source lines appear in the traceback")
        self.assertNotIn("bridge_shim.py", err["traceback"], "the shim's own frames are dropped")
        self.assertNotIn("casparian_bridge", err["traceback"], "the shim package's own frames are dropped")

    def test_sys_exit_in_a_plugin_is_a_failure(self) -> None:
        err = self.error_of("import sys\nsys.exit(3)")
        self.assertEqual(err["type"], "SystemExit")

    def test_syntax_error_and_missing_parse(self) -> None:
        ok, ch = run_source("def parse(:\n")
        self.assertFalse(ok)
        self.assertEqual(ch.json_frames(bridge_shim.ERROR)[0]["type"], "SyntaxError")
        ok, ch = run_source("x = 1\n")
        self.assertIn("parse(path)", ch.json_frames(bridge_shim.ERROR)[0]["message"])

    def test_unsupported_and_none_returns(self) -> None:
        self.assertIn("cannot turn builtins.dict", self.error_of("return {'a': [1]}")["message"])
        self.assertIn("returned None", self.error_of("return None")["message"])
        self.assertIn("must hold Outputs", self.error_of("return [1, 2]")["message"])

    def test_huge_messages_are_cut(self) -> None:
        err = self.error_of("raise ValueError('x' * 1_000_000)")
        self.assertLessEqual(len(err["message"]), bridge_shim.MAX_MESSAGE_CHARS)
        self.assertLessEqual(len(err["traceback"]), bridge_shim.MAX_TRACEBACK_CHARS)
        self.assertIn("characters cut", err["message"])


class LoadPluginTest(unittest.TestCase):
    def test_module_is_named_after_the_plugin(self) -> None:
        module = bridge_shim.load_plugin("acme_csv_unique_for_test", "VALUE = __name__, __file__\n")
        self.assertEqual(module.VALUE, ("acme_csv_unique_for_test", "<plugin:acme_csv_unique_for_test>"))
        self.assertIs(sys.modules["acme_csv_unique_for_test"], module)
        del sys.modules["acme_csv_unique_for_test"]

    def test_never_shadows_a_real_module(self) -> None:
        import csv

        bridge_shim.load_plugin("csv", "X = 1\n")
        self.assertIs(sys.modules["csv"], csv)
        bridge_shim.load_plugin("json", "X = 1\n")
        self.assertTrue(hasattr(sys.modules["json"], "dumps"))

    def test_never_shadows_the_shim_package(self) -> None:
        import casparian_bridge.frames

        for name in ("casparian_bridge", "casparian_bridge.frames"):
            bridge_shim.load_plugin(name, "X = 1\n")
        self.assertIs(sys.modules["casparian_bridge.frames"], casparian_bridge.frames)
        self.assertFalse(hasattr(sys.modules["casparian_bridge"], "X"))
        # A plugin named like one of the package's modules keeps its own bare name.
        module = bridge_shim.load_plugin("frames", "X = 1\n")
        self.assertIs(sys.modules.pop("frames"), module)
        self.assertIs(sys.modules["casparian_bridge.frames"], casparian_bridge.frames)

    def test_dataclasses_work_in_plugins(self) -> None:
        module = bridge_shim.load_plugin(
            "dc_plugin_for_test", "from __future__ import annotations\nimport dataclasses\n@dataclasses.dataclass\nclass Row:\n    a: int\n"
        )
        self.assertEqual(module.Row(1).a, 1)
        del sys.modules["dc_plugin_for_test"]

    def test_forget_plugins_unregisters_only_what_was_registered(self) -> None:
        import csv
        from casparian_bridge import runner

        runner.forget_plugins()
        first = bridge_shim.load_plugin("reused_plugin_for_test", "X = 1\n")
        bridge_shim.load_plugin("csv", "X = 1\n")
        runner.forget_plugins()
        self.assertNotIn("reused_plugin_for_test", sys.modules)
        self.assertIs(sys.modules["csv"], csv)
        # The next job's module is registered under the name again (a reused guest, fork_child.py).
        second = bridge_shim.load_plugin("reused_plugin_for_test", "X = 2\n")
        self.assertIsNot(second, first)
        self.assertIs(sys.modules["reused_plugin_for_test"], second)
        runner.forget_plugins()

    def test_sdk_calls_become_frames(self) -> None:
        ok, ch = run_source(src("""
            import pyarrow as pa
            from casparian import log, progress, metrics
            def parse(path):
                log("hi", level="debug")
                progress(rows=5, fraction=0.5)
                metrics(bad=2)
                return pa.table({"x": [1]})
        """))
        self.assertTrue(ok)
        self.assertEqual(ch.json_frames(bridge_shim.LOG), [{"level": "debug", "message": "hi"}])
        self.assertEqual(ch.json_frames(bridge_shim.PROGRESS), [{"rows": 5, "fraction": 0.5}])
        self.assertEqual(ch.json_frames(bridge_shim.METRICS)[0], {"bad": 2})
        self.assertIsNone(casparian._emitter, "the emitter is removed after the run")


class FrameCodecTest(unittest.TestCase):
    def test_encode(self) -> None:
        self.assertEqual(bridge_shim.encode_frame(0x12, b"abc"), b"\x12\x00\x00\x00\x03abc")
        self.assertEqual(json.loads(bridge_shim.encode_json({"m": "é"}).decode()), {"m": "é"})
        with self.assertRaises(ValueError):
            bridge_shim.encode_json({"x": float("nan")})


if __name__ == "__main__":
    unittest.main()
