import unittest

import _support  # noqa: F401  (puts bridge_py on sys.path)

import casparian
from casparian import Output, PermanentError, TransientError


class CapturingEmitter:
    def __init__(self) -> None:
        self.calls = []

    def __call__(self, kind, payload):
        self.calls.append((kind, payload))


class SdkTest(unittest.TestCase):
    def setUp(self) -> None:
        self.emitter = CapturingEmitter()
        casparian._set_emitter(self.emitter)

    def tearDown(self) -> None:
        casparian._set_emitter(None)

    def test_output_validates_its_name(self) -> None:
        out = Output("rows", [1])
        self.assertEqual(out.name, "rows")
        self.assertEqual(out.data, [1])
        for bad in ["", None, "x" * 129, "a\nb"]:
            with self.assertRaises(ValueError, msg=repr(bad)):
                Output(bad, None)  # type: ignore[arg-type]

    def test_log_normalises_levels(self) -> None:
        casparian.log("hello")
        casparian.log("careful", level="WARNING")
        casparian.log(42, level="error")  # type: ignore[arg-type]
        self.assertEqual(
            self.emitter.calls,
            [
                ("log", {"level": "info", "message": "hello"}),
                ("log", {"level": "warn", "message": "careful"}),
                ("log", {"level": "error", "message": "42"}),
            ],
        )
        with self.assertRaises(ValueError):
            casparian.log("x", level="loud")

    def test_progress_sends_only_given_fields(self) -> None:
        casparian.progress(rows=10)
        casparian.progress(fraction=0.5, message="half")
        casparian.progress()
        self.assertEqual(
            self.emitter.calls,
            [("progress", {"rows": 10}), ("progress", {"fraction": 0.5, "message": "half"})],
        )
        for bad in [dict(rows=-1), dict(rows=1.5), dict(rows=True), dict(fraction=1.5)]:
            with self.assertRaises(ValueError, msg=repr(bad)):
                casparian.progress(**bad)  # type: ignore[arg-type]

    def test_metrics_must_be_finite_numbers(self) -> None:
        casparian.metrics(bad_lines=3, ratio=0.25)
        self.assertEqual(self.emitter.calls, [("metrics", {"bad_lines": 3, "ratio": 0.25})])
        for bad in [dict(x="1"), dict(x=float("nan")), dict(x=float("inf")), dict(x=True)]:
            with self.assertRaises(ValueError, msg=repr(bad)):
                casparian.metrics(**bad)  # type: ignore[arg-type]

    def test_without_a_shim_messages_go_to_stderr(self) -> None:
        import contextlib
        import io

        casparian._set_emitter(None)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            casparian.log("standalone")
        self.assertIn("standalone", err.getvalue())

    def test_error_classes_are_distinct_exceptions(self) -> None:
        self.assertTrue(issubclass(TransientError, Exception))
        self.assertTrue(issubclass(PermanentError, Exception))
        self.assertFalse(issubclass(TransientError, PermanentError))


if __name__ == "__main__":
    unittest.main()
