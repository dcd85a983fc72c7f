"""How the bench starts modelport's gateway and configures it: the plug-in points.

Assumed interface (ARCHITECTURE.md's CLI): `modelport serve --repo DIR --host 127.0.0.1
--port N --workers 1`, ready when `GET /v2/health/ready` answers 200, V2 inference at
`POST /v2/models/{name}/infer` (JSON and the binary tensor extension). When `modelport
serve --help` fails, every gateway row is reported as not available.

Batching: `enable_batching` turns it on for one model through the config API
(`PUT /v2/repository/models/{m}/config`, which answers once the model serves with the new
config), with the admin token the bench gives the gateway on its command line.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.servers import HOST

READY_PATH = "/v2/health/ready"
ADMIN_TOKEN = "modelport-bench"  # a loopback-only server that lives for one bench run


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


def grpc_available() -> bool:
    return "--grpc-port" in (serve_help() or "")


def serve_command(repo: Path, port: int, grpc_port: int = 0) -> list[str]:
    """`modelport serve` on `repo`; `--workers 1` once the CLI has that option, and gRPC on
    `grpc_port` (0: off) once it has `--grpc-port`."""
    command = [modelport_executable(), "serve", "--repo", str(repo), "--host", HOST]
    workers = ["--workers", "1"] if "--workers" in (serve_help() or "") else []
    grpc = ["--grpc-port", str(grpc_port)] if grpc_available() else []
    return [*command, "--port", str(port), "--admin-token", ADMIN_TOKEN, *workers, *grpc]


def enable_batching(base_url: str, repo: Path, model: str, settings: BatchingSettings) -> bool:
    """Turn dynamic batching on for `model` in the running gateway at `base_url`.

    Return True once it is on (and the model is ready), False when it could not be done.
    The model's config is read, its `batching` section set, and the whole config written
    back with `PUT {base_url}/v2/repository/models/{model}/config`, which answers once the
    model's live versions batch (a PUT replaces the config: the version policy is kept).
    """
    del repo  # the API writes the config into it
    url = f"{base_url}/v2/repository/models/{model}/config"
    try:
        config = _call(url)
        config.pop("name", None)  # the rest (version policy ...) is kept as it is
        config["batching"] = {
            "max_batch_size": settings.max_batch_size,
            "max_queue_delay_us": settings.max_queue_delay_us,
        }
        answer = _call(url, "PUT", config)
        _call(f"{base_url}/v2/models/{model}/ready")
    except (urllib.error.URLError, ValueError) as exc:
        print(f"  batching could not be turned on for {model}: {exc}", flush=True)
        return False
    return bool(answer.get("batching", {}).get("max_batch_size") == settings.max_batch_size)


def _call(url: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data, headers, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())
