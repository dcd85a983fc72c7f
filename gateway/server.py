"""Run the gateway with uvicorn (httptools, uvloop): one process, or N worker processes.

With `workers > 1`, uvicorn binds the port once and starts N worker processes that accept
on it; each builds its own app (its own copy of every loaded model) from the ServerConfig
the parent passes through the environment, so all of them share one admin token,
generated once by the parent. A write made through one worker (an upload, an alias, a
config) goes to the repository on disk; the others pick it up at their next repository
poll, so multi-worker serving needs a poll interval above 0.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.config import ServerConfig
from gateway.control.archives import ArchiveLimits
from gateway.rest.fastlane import FastLane

CONFIG_ENV = "MODELPORT_SERVER_CONFIG"  # the ServerConfig of the workers, as JSON
_UVICORN = {
    "loop": "uvloop",
    "http": "httptools",
    "access_log": False,
    "log_level": "info",
    "timeout_graceful_shutdown": 10,
}


def serve(config: ServerConfig, announce: Callable[[str], None] = print, workers: int = 1) -> None:
    import uvicorn

    if workers > 1 and config.poll_interval <= 0:
        raise ValueError("several workers need a poll interval above 0 to see each other's writes")
    if config.host not in ("127.0.0.1", "localhost", "::1"):
        announce(f"warning: listening on {config.host}, reachable beyond this machine")
    where = f"{config.repo_root} on http://{config.host}:{config.port}"
    if workers == 1:
        from gateway.app import create_app

        app = create_app(config)
        announce(f"modelport serving {where}")
        uvicorn.run(app, host=config.host, port=config.port, **_UVICORN)
        return
    os.environ[CONFIG_ENV] = config_to_json(config)  # inherited by the worker processes
    announce(f"modelport serving {where} with {workers} worker processes")
    uvicorn.run(
        "gateway.server:worker_app",
        factory=True,
        workers=workers,
        host=config.host,
        port=config.port,
        **_UVICORN,
    )


def worker_app() -> FastLane:
    """The app of one worker process (uvicorn's app factory)."""
    from gateway.app import create_app

    return create_app(config_from_json(os.environ[CONFIG_ENV]))


def config_to_json(config: ServerConfig) -> str:
    fields = dataclasses.asdict(config)
    fields["repo_root"] = str(config.repo_root)
    return json.dumps(fields)


def config_from_json(text: str) -> ServerConfig:
    fields: dict[str, Any] = json.loads(text)
    fields["repo_root"] = Path(fields["repo_root"])
    if fields.get("archive_limits") is not None:
        fields["archive_limits"] = ArchiveLimits(**fields["archive_limits"])
    return ServerConfig(**fields)
