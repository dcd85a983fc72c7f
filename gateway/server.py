"""Run the gateway with uvicorn (httptools, uvloop) on one process."""

from __future__ import annotations

from collections.abc import Callable

from gateway.config import ServerConfig


def serve(config: ServerConfig, announce: Callable[[str], None] = print) -> None:
    import uvicorn

    from gateway.app import create_app

    app = create_app(config)
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        announce(f"warning: listening on {config.host}, reachable beyond this machine")
    announce(f"modelport serving {config.repo_root} on http://{config.host}:{config.port}")
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="info",
        timeout_graceful_shutdown=10,
    )
