"""Where and how the client dials the Sentinel: address, TLS files and token.

The same environment variables as the ``casparian`` CLI apply when an argument
is not given: CASPARIAN_SENTINEL (host:port, default localhost:50051),
CASPARIAN_TOKEN, CASPARIAN_TLS_CA, CASPARIAN_TLS_CERT and CASPARIAN_TLS_KEY.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

DEFAULT_SENTINEL = "localhost:50051"
# FetchOutput and Query send chunks of at most 1 MiB; a Job with its logs can be larger.
_MAX_MESSAGE = 64 * 1024 * 1024


@dataclass(frozen=True)
class ConnectOptions:
    """How to reach the Sentinel. Build it with ``ConnectOptions.resolve``."""

    address: str
    token: str | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # TLS without a CA file: the system's roots check the server.
    tls: bool = False

    @staticmethod
    def resolve(
        address: str | None = None,
        *,
        token: str | None = None,
        tls_ca: str | os.PathLike[str] | None = None,
        tls_cert: str | os.PathLike[str] | None = None,
        tls_key: str | os.PathLike[str] | None = None,
        tls: bool = False,
        env: Mapping[str, str] | None = None,
    ) -> "ConnectOptions":
        """Arguments first, then the CASPARIAN_* variables of ``env`` (default os.environ)."""
        env = os.environ if env is None else env

        def pick(value: object, var: str) -> str | None:
            if value is not None and value != "":
                return str(value)
            return env.get(var) or None

        target = pick(address, "CASPARIAN_SENTINEL") or DEFAULT_SENTINEL
        # The CLI takes several comma-separated replicas and fails over between
        # them; this client dials the first one only.
        target = target.split(",")[0].strip()
        cert, key = pick(tls_cert, "CASPARIAN_TLS_CERT"), pick(tls_key, "CASPARIAN_TLS_KEY")
        if (cert is None) != (key is None):
            raise ValueError("a client certificate (tls_cert) and its key (tls_key) go together")
        ca = pick(tls_ca, "CASPARIAN_TLS_CA")
        return ConnectOptions(
            address=target,
            token=pick(token, "CASPARIAN_TOKEN"),
            tls_ca=Path(ca) if ca else None,
            tls_cert=Path(cert) if cert else None,
            tls_key=Path(key) if key else None,
            tls=tls,
        )

    @property
    def secure(self) -> bool:
        return self.tls or self.tls_ca is not None or self.tls_cert is not None

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata: the token as ``authorization: Bearer TOKEN`` when there is one."""
        return (("authorization", f"Bearer {self.token}"),) if self.token else ()

    def open_channel(self) -> grpc.Channel:
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE)]
        if not self.secure:
            return grpc.insecure_channel(self.address, options=options)
        creds = grpc.ssl_channel_credentials(
            root_certificates=self.tls_ca.read_bytes() if self.tls_ca else None,
            private_key=self.tls_key.read_bytes() if self.tls_key else None,
            certificate_chain=self.tls_cert.read_bytes() if self.tls_cert else None,
        )
        return grpc.secure_channel(self.address, creds, options=options)
