"""Python client for the Casparian Flow Sentinel.

    from casparian_client import SentinelClient

    with SentinelClient() as c:                      # CASPARIAN_SENTINEL, CASPARIAN_TOKEN…
        c.publish_plugin_files("orders.py", "requirements.lock", version="1.0.0")
        job = c.submit_job("orders", "/data/north_01.csv")
        c.wait_job(job.id, check=True)
        table = c.fetch_output(job.id)               # a pyarrow.Table

The generated stubs (built from proto/ at install time) are importable as
``casparian_client.types_pb2``, ``sentinel_pb2`` and ``sentinel_pb2_grpc``
for calls this helper does not wrap.
"""
from ._proto import sentinel_pb2, sentinel_pb2_grpc, types_pb2
from .client import FINAL_STATES, Batch, SentinelClient
from .connection import DEFAULT_SENTINEL, ConnectOptions
from .errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    FailedPreconditionError,
    InvalidArgumentError,
    JobNotSucceededError,
    NotFoundError,
    PermissionDeniedError,
    SentinelError,
    UnauthenticatedError,
    UnavailableError,
)

__all__ = [
    "AlreadyExistsError",
    "Batch",
    "ConnectOptions",
    "DEFAULT_SENTINEL",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FINAL_STATES",
    "InvalidArgumentError",
    "JobNotSucceededError",
    "NotFoundError",
    "PermissionDeniedError",
    "SentinelClient",
    "SentinelError",
    "UnauthenticatedError",
    "UnavailableError",
    "sentinel_pb2",
    "sentinel_pb2_grpc",
    "types_pb2",
]
