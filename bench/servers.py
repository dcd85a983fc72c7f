"""Start a server in a subprocess on a free loopback port, wait until it is ready, stop it.

Each server gets its own process group, so that stopping it also ends the workers it
spawned (MLServer's inference pool); nothing else is signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
UVICORN_FLAGS = [
    "--workers", "1", "--http", "httptools", "--loop", "uvloop",
    "--no-access-log", "--log-level", "warning",
]  # fmt: skip


class ServerFailed(RuntimeError):
    """A server exited or never became ready; the message holds its log's tail."""


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    ready_seconds: float

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports (all sockets are held until every port is chosen)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind((HOST, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def uvicorn_command(app: str, port: int, factory: bool = True) -> list[str]:
    """uvicorn as the gateway runs it: 1 worker, httptools, uvloop, no access log."""
    extra = ["--app-dir", str(PROJECT_ROOT), *(["--factory"] if factory else [])]
    command = [sys.executable, "-m", "uvicorn", app, *extra, "--host", HOST, "--port"]
    return [*command, str(port), *UVICORN_FLAGS]


@contextlib.contextmanager
def serving(
    name: str,
    command: Sequence[str],
    port: int,
    ready_path: str,
    log: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120.0,
) -> Iterator[Server]:
    """Run `command` until the block ends; `ready_seconds` is spawn to first ready 200."""
    with log.open("wb") as out:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        try:
            url = f"http://{HOST}:{port}{ready_path}"
            _wait_ready(name, process, url, log, started + timeout)
            yield Server(name, process, port, log, time.perf_counter() - started)
        finally:
            stop(process)


def _wait_ready(
    name: str, process: subprocess.Popen[bytes], url: str, log: Path, deadline: float
) -> None:
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"{name} exited with {process.returncode}:\n{tail(log)}")
        if status_of(url) == 200:
            return
        time.sleep(0.01)
    raise ServerFailed(f"{name} was not ready at {url} in time:\n{tail(log)}")


def status_of(url: str, timeout: float = 1.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One request, for checking a server's answer before loading it (status 0: no answer)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError as exc:  # refused, reset, timed out: the server is gone or stuck
        return 0, str(exc).encode()


def stop(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the server's own process group, then SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    group = os.getpgid(process.pid)
    os.killpg(group, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # workers that outlived their parent
        os.killpg(group, signal.SIGKILL)


def tail(log: Path, lines: int = 30) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants, from /proc's children lists."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                pending += [int(c) for c in (task / "children").read_text().split()]
    return found
