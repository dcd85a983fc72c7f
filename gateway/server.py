"""Run the gateway with uvicorn (httptools, uvloop): one process, or N worker processes.

The port is bound first, before any model is loaded, so a port in use (or not ours to
bind) is refused at once with its own error (`PortUnavailable`, exit code 17) rather than
after minutes of loading. The "serving" banner is printed once the server accepts
connections: after every model's first load with one process; once the shared socket
listens with several (each worker then loads its own copy of the models).

With `workers > 1`, N worker processes accept on the one socket; each builds its own app
from the ServerConfig the parent passes through the environment, so all of them share one
admin token, generated once by the parent. A write made through one worker (an upload, an
alias, a config) goes to the repository on disk; the others pick it up at their next
repository poll, so multi-worker serving needs a poll interval above 0.

gRPC (`grpc_port` above 0) runs in the same process and event loop as uvicorn: the app's
lifespan binds and starts the gRPC server before the first load and stops it before the
models close (gateway.app), so both front ends share one DataPlane, its leases and its
metrics. A busy gRPC port is refused here first, like the HTTP one (exit code 17), with a
probe bound and closed at once. With several workers each worker runs its own gRPC server
on the port with SO_REUSEPORT, so the kernel spreads gRPC connections (not calls: HTTP/2
connections are long-lived) over the workers as it spreads HTTP connections.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

from gateway.config import ServerConfig
from gateway.control.archives import ArchiveLimits
from gateway.errors import PortUnavailable
from gateway.rest.fastlane import FastLane
from model_repo.repository import repo_root

CONFIG_ENV = "MODELPORT_SERVER_CONFIG"  # the ServerConfig of the workers, as JSON
BACKLOG = 2048  # uvicorn's default
_UVICORN = {
    "loop": "uvloop",
    "http": "httptools",
    "access_log": False,
    "log_level": "info",
    "timeout_graceful_shutdown": 10,
    "backlog": BACKLOG,
}


def serve(config: ServerConfig, announce: Callable[[str], None] = print, workers: int = 1) -> None:
    if workers > 1 and config.poll_interval <= 0:
        raise ValueError("several workers need a poll interval above 0 to see each other's writes")
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        announce(f"warning: listening on {config.host}, reachable beyond this machine")
    where = f"{config.repo_root} on http://{config.host}:{config.port}"
    sock = bind(config.host, config.port)
    if config.grpc_port:
        where += f" (gRPC on {config.grpc_address})"
        bind(config.host, config.grpc_port, "--grpc-port").close()  # refused now if in use
    if workers == 1:
        from gateway.app import create_app

        settings = uvicorn.Config(create_app(config), **_UVICORN)
        _AnnouncingServer(settings, lambda: announce(f"modelport serving {where}")).run([sock])
        return
    from uvicorn.supervisors import Multiprocess

    os.environ[CONFIG_ENV] = config_to_json(config)  # inherited by the worker processes
    settings = uvicorn.Config(
        "gateway.server:worker_app", factory=True, workers=workers, **_UVICORN
    )
    sock.listen(BACKLOG)  # connections wait in the backlog until a worker accepts them
    announce(f"modelport serving {where} with {workers} worker processes")
    Multiprocess(settings, sockets=[sock]).run()


def bind(host: str, port: int, option: str = "--port") -> socket.socket:
    """A TCP socket bound to host:port, or PortUnavailable saying why it cannot be (and
    which `option` chooses another)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {host}: {exc.strerror}; check --host") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise PortUnavailable(_bind_refusal(host, port, exc, option)) from None
    sock.set_inheritable(True)  # the worker processes accept on it
    return sock


def _bind_refusal(host: str, port: int, exc: OSError, option: str) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use (another modelport or server?); "
            f"stop it or choose another port with {option}"
        )
    if exc.errno == errno.EACCES:
        return (
            f"port {port} on {host} needs privileges to bind; choose a port above 1023 "
            f"with {option}"
        )
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


class _AnnouncingServer(uvicorn.Server):  # type: ignore[misc]  # uvicorn has no type hints here
    """A uvicorn server that calls `announce` once it accepts connections."""

    def __init__(self, settings: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(settings)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:  # else it failed, and said why
            self._announce()


def worker_app() -> FastLane:
    """The app of one worker process (uvicorn's app factory)."""
    from gateway.app import create_app

    return create_app(config_from_json(os.environ[CONFIG_ENV]), shared_ports=True)


def config_to_json(config: ServerConfig) -> str:
    fields = dataclasses.asdict(config)
    fields["repo_root"] = str(config.repo_root)
    return json.dumps(fields)


def config_from_json(text: str) -> ServerConfig:
    fields: dict[str, Any] = json.loads(text)
    fields["repo_root"] = repo_root(fields["repo_root"])  # a Path, or an s3:// URL as text
    if fields.get("archive_limits") is not None:
        fields["archive_limits"] = ArchiveLimits(**fields["archive_limits"])
    return ServerConfig(**fields)
