"""`serve run CONFIG` in a subprocess: a local Ray instance of its own, on loopback only,
running the Serve config until the block ends, then shut down with everything it started.

The instance is this process's: `serve run` starts Ray's processes itself (no `ray start`
beforehand, so no `ray stop` after, which would end every Ray process on the machine) in a
session of their own, ended by that session's id if any outlives the shutdown.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.integration.servers import ROOT

REPLICA_HEADER = "x-modelport-replica"


@contextlib.contextmanager
def serve_run(
    config: dict[str, Any], workdir: Path, env: dict[str, str], replicas: int, timeout: float = 240
) -> Iterator[str]:
    """Run `config` with `serve run` until the block ends; yields the proxy's URL once
    `replicas` distinct replicas have answered `/v2/health/ready` with 200."""
    config_file = workdir / "serve.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    http = config["http_options"]
    url = f"http://{http['host']}:{http['port']}"
    ray_tmp = Path(tempfile.mkdtemp(prefix="mp-ray-"))  # short: Ray's unix sockets live there
    log = workdir / "serve-run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "serve"), "run", str(config_file)],
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_environment(workdir, ray_tmp, env),
            start_new_session=True,
        )
    try:
        _wait_for_replicas(url, process, log, replicas, timeout)
        yield url
    finally:
        _shut_down(process)
        shutil.rmtree(ray_tmp, ignore_errors=True)


def _environment(workdir: Path, ray_tmp: Path, env: dict[str, str]) -> dict[str, str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("MODELPORT_", "RAY_"))}
    return {
        **inherited,
        "PYTHONPATH": str(ROOT),  # the replicas import this worktree's gateway
        "HOME": str(workdir),  # Ray keeps its auth token under ~/.ray
        "RAY_TMPDIR": str(ray_tmp),
        "RAY_USAGE_STATS_ENABLED": "0",
        # A single-machine instance: every Ray process binds and talks on 127.0.0.1, never
        # on the machine's other addresses.
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "PYTHONUNBUFFERED": "1",
        **env,
    }


def _wait_for_replicas(
    url: str, process: subprocess.Popen[bytes], log: Path, replicas: int, timeout: float
) -> None:
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5) as client:
        while len(seen) < replicas:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"serve run: {len(seen)} of {replicas} replicas ready "
                    f"(exit code {process.poll()}):\n{log.read_text(errors='replace')[-6000:]}"
                )
            with contextlib.suppress(httpx.HTTPError):
                response = client.get(url + "/v2/health/ready")
                if response.status_code == 200 and REPLICA_HEADER in response.headers:
                    seen.add(response.headers[REPLICA_HEADER])
                    continue
            time.sleep(0.5)


def _shut_down(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C, as a user stops `serve run` (Serve shuts down, then Ray); then the session."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=90)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pid in session_members(process.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def session_members(session: int) -> list[int]:
    """The processes still in the session that `serve run` led."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The fields after the command name (which may hold spaces): state, ppid, pgrp, session.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == session:
                found.append(int(stat.parent.name))
    return found
