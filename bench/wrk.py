"""Drive load with wrk (1 thread, loopback, bounded in time) and read its JSON summary.

`post.lua` posts one fixed body and prints its figures as one JSON line from wrk's `done()`
hook, so nothing here parses wrk's human-readable report. wrk counts responses with a
status of 400 or more as errors (`non2xx` below); socket errors are counted apart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.payloads import HEADER_LENGTH, Body

SCRIPT = Path(__file__).with_name("post.lua")
INSTALL_HINT = "wrk is not installed; install it with: apt-get install -y wrk"
MARKER = "BENCH_JSON "


class WrkMissing(RuntimeError):
    pass


class WrkFailed(RuntimeError):
    """wrk exited with an error or printed no summary."""


@dataclass(frozen=True)
class WrkResult:
    connections: int
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    non2xx: int
    socket_errors: int

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkMissing(INSTALL_HINT)
    return path


def run_wrk(url: str, body: Body, connections: int, seconds: float) -> WrkResult:
    """Post `body` to `url` from `connections` connections for `seconds`."""
    env = {
        **os.environ,
        "BENCH_BODY": str(body.path),
        "BENCH_CONTENT_TYPE": body.content_type,
        "BENCH_HEADER_LENGTH": body.headers.get(HEADER_LENGTH, ""),
    }
    command = [
        wrk_path(), "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s", "-s", str(SCRIPT), url,
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise WrkFailed(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse(done.stdout, connections)


def parse(output: str, connections: int) -> WrkResult:
    lines = [line for line in output.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise WrkFailed(f"wrk printed no summary line:\n{output}")
    raw = json.loads(lines[-1][len(MARKER) :])
    seconds = raw["duration_us"] / 1e6
    sockets = sum(raw[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return WrkResult(
        connections=connections,
        requests=raw["requests"],
        duration_s=round(seconds, 3),
        rps=raw["requests"] / seconds if seconds else 0.0,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        mean_ms=raw["mean_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        non2xx=raw["non2xx"],
        socket_errors=sockets,
    )
