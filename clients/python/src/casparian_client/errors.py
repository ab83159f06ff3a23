"""Errors raised by the client: one class per gRPC status the Sentinel uses on purpose.

Every error carries the status ``code`` (a ``grpc.StatusCode``) and the
Sentinel's ``details`` text; ``str(err)`` reads ``NOT_FOUND: job x not found``.
Catch ``SentinelError`` for any of them, or a subclass for one code.
"""
from __future__ import annotations

import grpc


class SentinelError(Exception):
    """A call to the Sentinel failed with a gRPC status."""

    def __init__(self, code: grpc.StatusCode, details: str, method: str = "") -> None:
        self.code = code
        self.details = details
        self.method = method
        super().__init__(f"{code.name}: {details}" + (f" ({method})" if method else ""))


class NotFoundError(SentinelError):
    """NOT_FOUND: an unknown job, plugin, version or output."""


class AlreadyExistsError(SentinelError):
    """ALREADY_EXISTS: a plugin version with other content, or a reused idempotency key."""


class InvalidArgumentError(SentinelError):
    """INVALID_ARGUMENT: the request was refused as malformed (bad path, name, field…)."""


class FailedPreconditionError(SentinelError):
    """FAILED_PRECONDITION: the job is not in a state the call allows (e.g. fetching from an unfinished job)."""


class PermissionDeniedError(SentinelError):
    """PERMISSION_DENIED: e.g. an input path outside the Sentinel's input roots, or a token of the wrong role."""


class UnauthenticatedError(SentinelError):
    """UNAUTHENTICATED: no token, or one the Sentinel does not accept."""


class UnavailableError(SentinelError):
    """UNAVAILABLE: the Sentinel could not be reached (or is shutting down)."""


class DeadlineExceededError(SentinelError):
    """DEADLINE_EXCEEDED: the call's timeout passed."""


_BY_CODE: dict[grpc.StatusCode, type[SentinelError]] = {
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}


def from_rpc_error(err: grpc.RpcError, method: str = "") -> SentinelError:
    """The SentinelError (subclass by status code) for a failed gRPC call."""
    code = err.code() if isinstance(err, grpc.Call) else grpc.StatusCode.UNKNOWN
    details = (err.details() if isinstance(err, grpc.Call) else None) or str(err)
    return _BY_CODE.get(code, SentinelError)(code, details, method)


class JobNotSucceededError(Exception):
    """wait_job(..., check=True) saw the job end in a state other than SUCCEEDED."""

    def __init__(self, job: object) -> None:
        self.job = job
        state = getattr(job, "state", None)
        error = getattr(job, "error", None)
        msg = getattr(error, "message", "") if error is not None else ""
        super().__init__(f"job {getattr(job, 'id', '?')} ended {state_name(state)}" + (f": {msg}" if msg else ""))


def state_name(state: object) -> str:
    """JOB_STATE_… for a JobState number (the number itself when it is not one)."""
    from ._proto import types_pb2

    if isinstance(state, int):
        try:
            return str(types_pb2.JobState.Name(state))  # type: ignore[arg-type,unused-ignore]
        except ValueError:
            pass
    return str(state)
