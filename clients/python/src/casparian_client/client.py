"""SentinelClient: a thin, typed layer over the generated Sentinel stub.

Methods return the generated protobuf messages (``types_pb2.Job``,
``types_pb2.Plugin``…; see proto/casparian/v1/*.proto for every field), except
``fetch_output`` (a ``pyarrow.Table``) and ``submit_jobs`` (a ``Batch``). Every
failed call raises a ``SentinelError`` carrying the gRPC status code.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
from google.protobuf.message import Message
import pyarrow.ipc

from ._proto import sentinel_pb2, sentinel_pb2_grpc, types_pb2
from .connection import ConnectOptions
from .errors import JobNotSucceededError, from_rpc_error

FINAL_STATES = frozenset(
    {
        types_pb2.JOB_STATE_SUCCEEDED,
        types_pb2.JOB_STATE_FAILED,
        types_pb2.JOB_STATE_CANCELLED,
        types_pb2.JOB_STATE_DEAD_LETTER,
    }
)

@dataclass(frozen=True)
class Batch:
    """What SubmitJobs queued: one job per input path, in order, under one batch id."""

    batch_id: str
    job_ids: list[str]
    plugin_version: str
    created: bool


class SentinelClient:
    """A connection to one Sentinel. Use it as a context manager, or call ``close()``.

    >>> with SentinelClient("localhost:50051") as c:
    ...     job = c.submit_job("sales_orders", "/data/north_01.csv")
    ...     table = c.fetch_output(c.wait_job(job.id, check=True).id)
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token: str | None = None,
        tls_ca: str | os.PathLike[str] | None = None,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        tls: bool = False,
        timeout: float | None = 30.0,
    ) -> None:
        """Dial ``address`` (host:port; default CASPARIAN_SENTINEL, else localhost:50051).

        ``token`` (default CASPARIAN_TOKEN) goes with every call as
        ``authorization: Bearer TOKEN``. TLS is on when ``tls_ca`` (PEM roots
        that check the server), ``tls_cert``/``tls_key`` (a client certificate,
        for mTLS) or ``tls=True`` (system roots) is given, or their CASPARIAN_TLS_*
        variables are set. ``timeout`` (seconds, None: none) bounds each unary
        call; streams are not bounded.
        """
        self.options = ConnectOptions.resolve(address, token=token, tls_ca=tls_ca, tls_cert=tls_cert, tls_key=tls_key, tls=tls)
        self.timeout = timeout
        self._channel = self.options.open_channel()
        self._stub = sentinel_pb2_grpc.SentinelStub(self._channel)  # type: ignore[no-untyped-call]
        self._metadata = self.options.metadata()

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "SentinelClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -----------------------------------------------------------

    # The stub's methods are untyped (grpcio ships no annotations); the public
    # methods below declare what each call returns.

    def _unary(self, method: str, request: Message) -> Any:
        try:
            return getattr(self._stub, method)(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as err:
            raise from_rpc_error(err, method) from None

    def _stream(self, method: str, request: Message, timeout: float | None = None) -> Iterator[Any]:
        call = getattr(self._stub, method)(request, timeout=timeout, metadata=self._metadata)
        try:
            yield from call
        except grpc.RpcError as err:
            raise from_rpc_error(err, method) from None
        finally:
            call.cancel()  # a consumer that stops early ends the stream; a no-op once it has ended

    # --- plugins ------------------------------------------------------------

    def publish_plugin(
        self,
        name: str,
        version: str,
        source: str,
        lockfile: str,
        *,
        description: str = "",
        env_allow: Sequence[str] = (),
        max_attempts: int = 0,
        isolation: str = "",
        max_concurrency: int = 0,
    ) -> tuple[types_pb2.Plugin, bool]:
        """Publish a plugin version, unsigned: (the stored plugin, created).

        ``source`` is the plugin module's Python text (defines ``parse(path)``),
        ``lockfile`` its pinned requirements (pip format or a uv.lock). The same
        name+version with the same content again returns created=False; other
        content is AlreadyExistsError. Workers run unsigned plugins only with
        --allow-unsigned; sign with ``casparian publish --sign-key`` otherwise.
        """
        manifest = types_pb2.PluginManifest(
            description=description,
            env_allow=list(env_allow),
            max_attempts=max_attempts,
            isolation=isolation,
            max_concurrency=max_concurrency,
        )
        req = sentinel_pb2.PublishPluginRequest(name=name, version=version, source=source, lockfile=lockfile, manifest=manifest)
        res: sentinel_pb2.PublishPluginResponse = self._unary("PublishPlugin", req)
        return res.plugin, res.created

    def publish_plugin_files(
        self, plugin_file: str | os.PathLike[str], lockfile: str | os.PathLike[str], *, name: str | None = None, version: str = "0.1.0", **manifest: Any
    ) -> tuple[types_pb2.Plugin, bool]:
        """Like ``casparian publish PLUGIN.py --lockfile FILE``: name defaults to the file's stem;
        ``manifest`` takes publish_plugin's keyword arguments (description, env_allow…)."""
        path = Path(plugin_file)
        return self.publish_plugin(name or path.stem, version, path.read_text(encoding="utf-8"), Path(lockfile).read_text(encoding="utf-8"), **manifest)

    def list_plugins(self, name: str = "") -> list[types_pb2.Plugin]:
        """Published plugin versions (of ``name``, or all), newest first."""
        res: sentinel_pb2.ListPluginsResponse = self._unary("ListPlugins", sentinel_pb2.ListPluginsRequest(name=name))
        return list(res.plugins)

    # --- jobs ---------------------------------------------------------------

    def submit_job(
        self, plugin: str, input_path: str, *, version: str = "", idempotency_key: str = "", max_attempts: int = 0, priority: int = 0
    ) -> types_pb2.Job:
        """Queue one job of ``plugin`` (``version``: empty = latest) on ``input_path``, an absolute path the workers can read."""
        req = sentinel_pb2.SubmitJobRequest(
            plugin_name=plugin, plugin_version=version, input_path=input_path, idempotency_key=idempotency_key, max_attempts=max_attempts, priority=priority
        )
        res: sentinel_pb2.SubmitJobResponse = self._unary("SubmitJob", req)
        return res.job

    def submit_jobs(
        self, plugin: str, input_paths: Iterable[str], *, version: str = "", idempotency_key: str = "", max_attempts: int = 0, priority: int = 0
    ) -> Batch:
        """Queue one job per path in one call and one transaction (1 to 10,000 paths); one bad path queues nothing."""
        req = sentinel_pb2.SubmitJobsRequest(
            plugin_name=plugin, plugin_version=version, input_paths=list(input_paths), idempotency_key=idempotency_key, max_attempts=max_attempts, priority=priority
        )
        res: sentinel_pb2.SubmitJobsResponse = self._unary("SubmitJobs", req)
        return Batch(batch_id=res.batch_id, job_ids=list(res.job_ids), plugin_version=res.plugin_version, created=res.created)

    def get_job(self, job_id: str, *, include_logs: bool = False) -> types_pb2.Job:
        """One job (NotFoundError when there is none)."""
        res: sentinel_pb2.GetJobResponse = self._unary("GetJob", sentinel_pb2.GetJobRequest(job_id=job_id, include_logs=include_logs))
        return res.job

    def job_logs(self, job_id: str) -> list[types_pb2.JobLog]:
        """The logs of every attempt of a job, oldest first."""
        res: sentinel_pb2.GetJobResponse = self._unary("GetJob", sentinel_pb2.GetJobRequest(job_id=job_id, include_logs=True))
        return list(res.logs)

    def cancel_job(self, job_id: str, reason: str = "") -> types_pb2.Job:
        """Cancel a queued or running job; a running one becomes CANCELLED once its worker stops it."""
        res: sentinel_pb2.CancelJobResponse = self._unary("CancelJob", sentinel_pb2.CancelJobRequest(job_id=job_id, reason=reason))
        return res.job

    def watch_job(self, job_id: str) -> Iterator[sentinel_pb2.WatchJobResponse]:
        """The job's events (a first snapshot, then state changes, progress and log lines).

        The iterator ends after the event that shows the job in a final state;
        stopping early (``break``) cancels the stream.
        """
        return self._stream("WatchJob", sentinel_pb2.WatchJobRequest(job_id=job_id))

    def watch_batch(self, batch_id: str) -> Iterator[sentinel_pb2.WatchJobsResponse]:
        """The state changes of a batch's jobs, with its counts; ends once every job is final."""
        return self._stream("WatchJobs", sentinel_pb2.WatchJobsRequest(batch_id=batch_id))

    def wait_job(self, job_id: str, *, timeout: float | None = None, check: bool = False) -> types_pb2.Job:
        """Follow the job (WatchJob) until it is final; return it as of that event.

        ``timeout`` (seconds; None: no limit) raises DeadlineExceededError. ``check=True``
        raises JobNotSucceededError unless it ended SUCCEEDED.
        """
        last: types_pb2.Job | None = None
        event: sentinel_pb2.WatchJobResponse
        for event in self._stream("WatchJob", sentinel_pb2.WatchJobRequest(job_id=job_id), timeout):
            last = event.job
            if last.state in FINAL_STATES:
                break
        if last is None or last.state not in FINAL_STATES:
            last = self.get_job(job_id)  # the stream ended without a final event: ask once
        if check and last.state != types_pb2.JOB_STATE_SUCCEEDED:
            raise JobNotSucceededError(last)
        return last

    # --- outputs ------------------------------------------------------------

    def fetch_output_bytes(self, job_id: str, output_name: str = "") -> tuple[types_pb2.OutputInfo, bytes]:
        """One committed output of a succeeded job as Arrow IPC stream bytes, with its info."""
        info = types_pb2.OutputInfo()
        chunks: list[bytes] = []
        chunk: sentinel_pb2.FetchOutputResponse
        for chunk in self._stream("FetchOutput", sentinel_pb2.FetchOutputRequest(job_id=job_id, output_name=output_name)):
            if chunk.HasField("output"):
                info = chunk.output
            chunks.append(chunk.data)
        return info, b"".join(chunks)

    def fetch_output(self, job_id: str, output_name: str = "") -> pa.Table:
        """One committed output of a succeeded job as a pyarrow Table (``output_name`` empty: "default", or the only one)."""
        _, data = self.fetch_output_bytes(job_id, output_name)
        with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
            return reader.read_all()

    def list_workers(self) -> list[types_pb2.WorkerInfo]:
        """The connected workers."""
        res: sentinel_pb2.ListWorkersResponse = self._unary("ListWorkers", sentinel_pb2.ListWorkersRequest())
        return list(res.workers)
