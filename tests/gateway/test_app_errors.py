"""The app's last line of defence, through a real uvicorn server on a loopback port: an
unexpected exception is one logged 500, and the client's connection survives it."""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
import uvicorn
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from gateway.app import create_app
from gateway.config import ServerConfig
from tests.integration.servers import free_port


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(n) for n in ("modelport.gateway", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    """A real server, with one endpoint that fails as a bug would."""
    app = create_app(ServerConfig(tmp_path / "repo", "admin", poll_interval=0))

    async def boom(request: Request) -> Response:
        raise RuntimeError("a bug, with /private/details")

    cast(FastAPI, app.api).add_api_route("/boom", boom, methods=["GET"])
    port = free_port()
    config = uvicorn.Config(app, "127.0.0.1", port, log_config=None, ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(30)


def test_an_internal_error_is_one_logged_500_and_the_connection_survives(
    port: int, records: Records
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/boom")
    response = connection.getresponse()
    body = response.read()
    assert response.status == 500
    assert b"internal error (RuntimeError)" in body and b"private" not in body
    socket = connection.sock
    connection.request("GET", "/v2/health/live")  # on the same keep-alive connection
    again = connection.getresponse()
    assert (again.status, again.read()) == (200, b'{"live":true}')
    assert connection.sock is socket
    connection.close()
    assert records.messages.count("internal error") == 1
    assert not [m for m in records.messages if "Exception in ASGI application" in m]
