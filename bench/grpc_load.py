"""A gRPC load generator (wrk does not speak gRPC): N concurrent clients, each on its own
HTTP/2 connection, sending one pre-serialized V2 ModelInferRequest in a loop.

Run as a subprocess of its own, so it does not share an interpreter with the bench:
`python -m bench.grpc_load HOST:PORT REQUEST_FILE --connections 32 --seconds 5` prints one
JSON line (requests, errors, rps, p50/p90/p99 ms). The request is sent as bytes and the
answers are not parsed (only counted), so the client pays as little per call as a Python
gRPC client can; it runs on the same 2 cores as the server under test, like wrk, and costs
more than wrk does, so a gRPC figure and a REST figure of one server are not a pure
protocol comparison (the gRPC rows of two servers are: same client, same request).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

import grpc
import numpy as np

METHOD = "/inference.GRPCInferenceService/ModelInfer"


async def _client(
    target: str, request: bytes, until: float, latencies: list[float], errors: list[str]
) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(METHOD)  # bytes in, bytes out: nothing parsed
        while (started := time.perf_counter()) < until:
            try:
                await call(request, timeout=30)
            except grpc.aio.AioRpcError as exc:
                errors.append(f"{exc.code().name}: {exc.details()}")
                continue
            latencies.append(time.perf_counter() - started)


async def run(target: str, request: bytes, connections: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_client(target, request, until, latencies, errors) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    ms = np.asarray(latencies or [float("nan")]) * 1000
    return {
        "connections": connections,
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "duration_s": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p99_ms": float(np.percentile(ms, 99)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_load", description=__doc__)
    parser.add_argument("target", help="host:port of the gRPC server")
    parser.add_argument("request", type=Path, help="a serialized ModelInferRequest")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    found = runner(run(args.target, args.request.read_bytes(), args.connections, args.seconds))
    print(json.dumps(found), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
