"""A real `modelport serve` in a subprocess on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
MODELPORT = [sys.executable, "-c", "from gateway.cli import main; main()"]
ADMIN_TOKEN = "test-admin-token"


@dataclass(frozen=True)
class Server:
    url: str
    host_port: str  # what tritonclient takes
    repo: Path
    log: Path
    admin_token: str = ADMIN_TOKEN
    grpc_target: str = ""  # host:port of its gRPC server; "" when gRPC is off

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(
    repo: Path,
    log: Path,
    *args: str,
    admin_token: str | None = ADMIN_TOKEN,
    timeout: float = 90,
    port: int | None = None,
    env: dict[str, str] | None = None,
    grpc: bool = False,
) -> Iterator[Server]:
    """Serve `repo` until the block ends; on exit, the log must hold no traceback.

    `port`: a port chosen beforehand (else a free one); `env`: variables added to the
    server's environment (every inherited `MODELPORT_*` one is dropped first); `grpc`: run
    the gRPC front end too, on a free port (else it is off, so that servers running side
    by side never meet on its default port).
    """
    port = port or free_port()
    grpc_port = free_port() if grpc else 0
    command = [*MODELPORT, "serve", "--repo", str(repo), "--port", str(port), *args]
    command += ["--grpc-port", str(grpc_port)]
    if admin_token is not None:
        command += ["--admin-token", admin_token]
    grpc_target = f"127.0.0.1:{grpc_port}" if grpc else ""
    server = Server(
        f"http://127.0.0.1:{port}", f"127.0.0.1:{port}", repo, log, admin_token or "", grpc_target
    )
    with running(command, server, timeout, env):
        yield server


@contextlib.contextmanager
def running(
    command: list[str], server: Server, timeout: float = 90, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Run `command` (a gateway that will answer at `server.url`) until the block ends, its
    output in `server.log`; on exit, the log must hold no traceback."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    environment.update(env or {}, PYTHONUNBUFFERED="1")
    with server.log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=environment
        )
    try:
        _wait_ready(server, process, timeout)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert "Traceback" not in server.log_text(), server.log_text()


NONE_SERVES = "no model can serve"


def _wait_ready(server: Server, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log_text()}")
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(server.url + "/v2/health/ready", timeout=1)
            if response.status_code == 200 or NONE_SERVES in response.text:
                return  # started: ready, or with no model that can serve (a test's own doing)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the server was not ready in {timeout} s:\n{server.log_text()}")
