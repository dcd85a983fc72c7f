"""moto's S3 server on loopback, started by the tests: a real S3 API over HTTP.

Nothing is patched: boto3 (in the test process and in every child it starts) reaches the
server through the standard chain's environment variables (`AWS_ENDPOINT_URL`, dummy
`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`), as it would reach AWS or MinIO.

    with moto_s3(log_path) as s3:           # `python -m moto.server -H 127.0.0.1 -p PORT`
        os.environ.update(s3.env())          # or pass s3.env() to a child process
        root = s3.new_root()                 # "s3://<new bucket>/repo"
        Repository(root)  /  modelport serve --repo <root>  /  ServerConfig(repo_root=root)
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.servers import free_port

MOTO_SERVER = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1"]


@dataclass(frozen=True)
class MotoS3:
    endpoint: str

    def env(self) -> dict[str, str]:
        """What boto3 needs to find the server and sign requests."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        """A boto3 client of the server, for a test to look at or change objects by hand."""
        import boto3

        env = self.env()
        return boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        ).client("s3", endpoint_url=self.endpoint)

    def new_root(self, prefix: str = "repo") -> str:
        """A new bucket's `s3://bucket/prefix`, so that tests share nothing."""
        bucket = f"modelport-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=bucket)
        return f"s3://{bucket}/{prefix}"


@contextlib.contextmanager
def moto_s3(log: Path, timeout: float = 30) -> Iterator[MotoS3]:
    """moto's server in a child process on a free loopback port, until the block ends."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*MOTO_SERVER, "-p", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_listening(port, process, timeout, log)
        yield MotoS3(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited: {log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"moto_server did not listen on {port} within {timeout} s")
