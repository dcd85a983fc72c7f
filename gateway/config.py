"""The settings of one gateway process."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from gateway.control.archives import ArchiveLimits

MIB = 1 << 20
DEFAULT_MAX_BODY_MIB = 64
DEFAULT_MAX_UPLOAD_MIB = 1024


@dataclass(frozen=True)
class ServerConfig:
    repo_root: Path | str  # a directory, or an s3://bucket/prefix URL
    admin_token: str
    inference_token: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    grpc_port: int = 0  # the gRPC front end's port; 0: none (`modelport serve` asks for 8001)
    allow_pickle: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_MIB * MIB
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MIB * MIB
    archive_limits: ArchiveLimits | None = None  # None: 4 x the upload limit, 10,000 files
    inference_threads: int | None = None  # None: the executor's default
    drain_timeout: float = 30.0  # seconds an unload waits for in-flight requests
    poll_interval: float = 1.0  # seconds between looks for repository changes; 0: never
    release_grace: float = 10.0  # seconds a replaced release revision still serves pinned calls

    @property
    def grpc_address(self) -> str:
        """host:grpc_port as gRPC takes it (an IPv6 address in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.grpc_port}"


def archive_limits(config: ServerConfig) -> ArchiveLimits:
    """What an uploaded archive may unpack to: by default four times the upload limit."""
    return config.archive_limits or ArchiveLimits(max_bytes=4 * config.max_upload_bytes)


def new_token() -> str:
    return secrets.token_urlsafe(32)
