"""The shim as a real process against a Unix socket server written here, playing the worker."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from typing import Dict, List, Tuple

from _support import SHIM_PATH, bridge_shim, read_stream, reassemble


class FakeWorker:
    """Listens on bridge.sock in a private directory and starts the shim as the worker would."""

    def __init__(self, token: str = "t" * 64) -> None:
        self.dir = tempfile.mkdtemp(prefix="bridge-shim-test-")
        self.path = os.path.join(self.dir, "bridge.sock")
        self.token = token
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(1)
        self.server.settimeout(30)

    def start(self, env_token: str = "", new_session: bool = False) -> subprocess.Popen:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": self.dir,
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "CASPARIAN_BRIDGE_SOCKET": self.path,
            "CASPARIAN_BRIDGE_TOKEN": env_token or self.token,
        }
        return subprocess.Popen(
            [sys.executable, SHIM_PATH],
            cwd=self.dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=new_session,
        )

    def accept(self) -> socket.socket:
        conn, _ = self.server.accept()
        conn.settimeout(30)
        return conn

    def close(self) -> None:
        self.server.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _running(pid: int) -> bool:
    """Whether pid exists and is not a zombie (an orphan's zombie may wait for its reaper)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def _kill_if_running(pid: int) -> None:
    if _running(pid):
        os.kill(pid, signal.SIGKILL)


def send_spec(conn: socket.socket, source: str, input_path: str = "/dev/null") -> None:
    spec = {"job_id": "j1", "attempt": 1, "plugin_name": "sock_plugin", "plugin_version": "1", "source": source, "input_path": input_path}
    conn.sendall(bridge_shim.encode_frame(bridge_shim.JOB_SPEC, bridge_shim.encode_json(spec)))


def read_all(conn: socket.socket) -> List[Tuple[int, bytes]]:
    frames = []
    while True:
        frame = bridge_shim.read_frame(conn, 4 << 20)
        if frame is None:
            return frames
        frames.append(frame)


class ShimOverSocketTest(unittest.TestCase):
    def setUp(self) -> None:
        self.worker = FakeWorker()
        self.procs: List[subprocess.Popen] = []

    def tearDown(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()
            p.stdout.close()
            p.stderr.close()
        self.worker.close()

    def launch(self, new_session: bool = False) -> Tuple[subprocess.Popen, socket.socket, Dict]:
        proc = self.worker.start(new_session=new_session)
        self.procs.append(proc)
        conn = self.worker.accept()
        kind, payload = bridge_shim.read_frame(conn)
        self.assertEqual(kind, bridge_shim.HELLO)
        return proc, conn, json.loads(payload)

    def test_full_conversation(self) -> None:
        proc, conn, hello = self.launch()
        self.assertEqual(hello["token"], self.worker.token)
        self.assertEqual(hello["pid"], proc.pid)
        self.assertEqual(hello["python_version"], sys.version.split()[0])
        import pyarrow

        self.assertEqual(hello["pyarrow_version"], pyarrow.__version__)
        send_spec(conn, textwrap.dedent("""
            import os
            import pyarrow as pa
            from casparian import Output, log
            def parse(path):
                print("noise on stdout does not disturb the socket")
                log("token visible: %s" % ("CASPARIAN_BRIDGE_TOKEN" in os.environ))
                yield Output("a", pa.table({"x": [1, 2]}))
                yield Output("b", pa.table({"cwd": [os.getcwd()]}))
                yield Output("a", pa.table({"x": [3]}))
        """))
        frames = read_all(conn)
        conn.close()
        self.assertEqual(proc.wait(timeout=30), 0)
        kinds = [bridge_shim.KIND_NAMES[k] for k, _ in frames]
        self.assertEqual(kinds[0], "LOG")
        self.assertEqual(kinds[-1], "DONE")
        self.assertEqual(json.loads(frames[0][1])["message"], "token visible: False")
        streams = reassemble(frames)
        self.assertEqual(read_stream(streams["a"]).to_pydict(), {"x": [1, 2, 3]})
        self.assertEqual(os.path.realpath(read_stream(streams["b"]).column("cwd")[0].as_py()), os.path.realpath(self.worker.dir))
        done = json.loads(frames[-1][1])
        self.assertEqual(done["rows"], 4)
        self.assertIn(b"noise on stdout", proc.stdout.read())

    def test_error_then_exit_code_1(self) -> None:
        proc, conn, _ = self.launch()
        send_spec(conn, "def parse(path):\n    raise KeyError('col')\n")
        frames = read_all(conn)
        conn.close()
        self.assertEqual(proc.wait(timeout=30), 1)
        self.assertEqual(frames[-1][0], bridge_shim.ERROR)
        self.assertEqual(json.loads(frames[-1][1])["type"], "KeyError")

    def test_cancel_frame_ends_the_guest(self) -> None:
        proc, conn, _ = self.launch()
        send_spec(conn, "import time\nfrom casparian import log\ndef parse(path):\n    log('started')\n    time.sleep(60)\n")
        kind, _ = bridge_shim.read_frame(conn)
        self.assertEqual(kind, bridge_shim.LOG)
        conn.sendall(bridge_shim.encode_frame(bridge_shim.CANCEL, b"{}"))
        self.assertEqual(proc.wait(timeout=30), bridge_shim.EXIT_WORKER_GONE)
        conn.close()

    def test_worker_hanging_up_ends_the_guest(self) -> None:
        proc, conn, _ = self.launch()
        send_spec(conn, "import time\ndef parse(path):\n    time.sleep(60)\n")
        conn.close()
        self.assertEqual(proc.wait(timeout=30), bridge_shim.EXIT_WORKER_GONE)

    def test_worker_gone_takes_the_plugins_subprocesses_down(self) -> None:
        # Started as the worker starts it: leading a process group of its own.
        proc, conn, _ = self.launch(new_session=True)
        send_spec(conn, textwrap.dedent("""
            import subprocess, time
            from casparian import log
            def parse(path):
                child = subprocess.Popen(["sleep", "300"])
                log("child %d" % child.pid)
                time.sleep(60)
        """))
        kind, payload = bridge_shim.read_frame(conn)
        self.assertEqual(kind, bridge_shim.LOG)
        child = int(json.loads(payload)["message"].split()[1])
        self.addCleanup(_kill_if_running, child)
        self.assertTrue(_running(child), "the plugin's subprocess runs")
        conn.close()  # the worker is gone
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertFalse(_running(child), "the plugin's subprocess went with the guest's process group")

    def test_without_bridge_variables_it_refuses_to_run(self) -> None:
        result = subprocess.run([sys.executable, SHIM_PATH], env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}, capture_output=True, timeout=60)
        self.assertEqual(result.returncode, bridge_shim.EXIT_USAGE)
        self.assertIn(b"CASPARIAN_BRIDGE_SOCKET", result.stderr)


if __name__ == "__main__":
    unittest.main()
