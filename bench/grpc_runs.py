"""Single-row V2 ModelInfer over gRPC (bench/grpc_load.py) against a running server: the
gateway's gRPC port and MLServer's, with byte-for-byte the same request."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.load import WARMUP_SECONDS, Figure, failed
from bench.payloads import IRIS_ROW
from bench.servers import HOST, PROJECT_ROOT

GRPC_CONNECTIONS = 32


@dataclass(frozen=True)
class GrpcLoad:
    connections: int
    metric: str = "rps"  # rps | p50

    @property
    def unit(self) -> str:
        return "req/s" if self.metric == "rps" else "ms p50"


def write_request(folder: Path, model: str, input_name: str = "input") -> Path:
    """The iris row as a ModelInferRequest with raw contents, as tritonclient.grpc sends it."""
    from tritonclient.grpc import service_pb2

    request = service_pb2.ModelInferRequest(model_name=model)
    request.inputs.add(name=input_name, datatype="FP32", shape=list(IRIS_ROW.shape))
    request.raw_input_contents.append(np.ascontiguousarray(IRIS_ROW).tobytes())
    path = folder / f"{model}-grpc.bin"
    path.write_bytes(request.SerializeToString())
    return path


def measure_grpc(
    port: int, request: Path, load: GrpcLoad, seconds: float, repeat: int, how: str
) -> Figure:
    """The best of `repeat` runs after a probe (one call) and a warm-up, as `load.measure`."""
    target = f"{HOST}:{port}"
    try:
        probe = _run(target, request, 1, 0.2)
        if probe["errors"] or not probe["requests"]:
            return failed(load.unit, how, f"probe failed: {probe['first_error']}")
        _run(target, request, load.connections, min(WARMUP_SECONDS, seconds))
        runs = [_run(target, request, load.connections, seconds) for _ in range(repeat)]
    except RuntimeError as exc:
        return failed(load.unit, how, str(exc))
    key = "rps" if load.metric == "rps" else "p50_ms"
    best = (max if load.metric == "rps" else min)(runs, key=lambda r: float(r[key]))
    errors = sum(int(r["errors"]) for r in runs)
    return {
        "value": float(best[key]),
        "unit": load.unit,
        "how": f"{how}, {load.connections} conn (bench.grpc_load)",
        "errors": errors,
        "flagged": errors > 0,
        "grpc_load": best,
        "repeats": [round(float(r[key]), 3) for r in runs],
    }


def _run(target: str, request: Path, connections: int, seconds: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.grpc_load", target, str(request)]
    command += ["--connections", str(connections), "--seconds", str(seconds)]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=seconds + 60
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.grpc_load failed: {done.stderr[-1000:]}")
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return found
