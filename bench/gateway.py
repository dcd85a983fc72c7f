"""How the bench starts modelport's gateway and configures it: the plug-in points.

Assumed interface (ARCHITECTURE.md's CLI): `modelport serve --repo DIR --host 127.0.0.1
--port N --workers 1`, ready when `GET /v2/health/ready` answers 200, V2 inference at
`POST /v2/models/{name}/infer` (JSON and the binary tensor extension). When `modelport
serve --help` fails, every gateway row is reported as not available.

Batching: `enable_batching` is the one function to fill in once the gateway's config API
exists; until then it returns False and T4's "batching on" row is not available.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.servers import HOST

READY_PATH = "/v2/health/ready"


@dataclass(frozen=True)
class BatchingSettings:
    max_batch_size: int = 32
    max_queue_delay_us: int = 1000


BATCHING = BatchingSettings()


def modelport_executable() -> str:
    local = Path(sys.executable).with_name("modelport")
    if local.is_file():
        return str(local)
    return shutil.which("modelport") or str(local)


@functools.cache
def serve_help() -> str | None:
    """`modelport serve --help`, or None when this checkout's CLI has no `serve`."""
    try:
        done = subprocess.run(
            [modelport_executable(), "serve", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "200"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def serve_available() -> bool:
    return serve_help() is not None


def serve_command(repo: Path, port: int) -> list[str]:
    """`modelport serve` on `repo`; `--workers 1` once the CLI has that option."""
    command = [modelport_executable(), "serve", "--repo", str(repo), "--host", HOST]
    workers = ["--workers", "1"] if "--workers" in (serve_help() or "") else []
    return [*command, "--port", str(port), *workers]


def enable_batching(base_url: str, repo: Path, model: str, settings: BatchingSettings) -> bool:
    """Turn dynamic batching on for `model` in the running gateway at `base_url`.

    Return True once it is on (and the model is ready again), False when the gateway
    offers no way to do it yet. To plug in the gateway's config API, e.g.
    `PUT {base_url}/v2/repository/models/{model}/config` with {"batching":
    {"max_batch_size": ..., "max_queue_delay_us": ...}}, or a config file in `repo`
    followed by `POST /v2/repository/models/{model}/load`; then wait for
    `GET /v2/models/{model}/ready`.
    """
    del base_url, repo, model, settings
    return False
