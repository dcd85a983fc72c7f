"""The gateway under the same loads as its baselines (T1-T5), over gRPC (G1-G2), and its
start-up (T6, with gRPC on: the TF Serving protos must not bring TensorFlow in)."""

from __future__ import annotations

import statistics
from pathlib import Path

from bench.context import (
    INFER,
    T1_CONNECTIONS,
    T3_CONNECTIONS,
    T4_CONNECTIONS,
    T5_CONNECTIONS,
    Context,
)
from bench.gateway import (
    BATCHING,
    READY_PATH,
    enable_batching,
    grpc_available,
    serve_available,
    serve_command,
)
from bench.grpc_runs import GRPC_CONNECTIONS, GrpcLoad, measure_grpc, write_request
from bench.load import Figures, Load, failed, measure, not_available, probe
from bench.servers import Server, ServerFailed, free_ports, process_tree, serving

# Shared-library names that show a heavy runtime was started in a process.
HEAVY = {"java": "libjvm", "tensorflow": "tensorflow", "torch": "libtorch"}
STARTS = 3


def _loads(ctx: Context) -> dict[str, tuple[Load, str]]:
    b = ctx.bodies
    return {
        "gateway.t1": (Load(INFER.format("iris"), b.iris, T1_CONNECTIONS), "iris JSON"),
        "gateway.t1.frame": (
            Load(INFER.format("iris-frame"), b.iris_frame, T1_CONNECTIONS),
            "iris-frame JSON (4 column inputs)",
        ),
        "gateway.t2": (Load(INFER.format("iris"), b.iris, 1, "p50"), "iris JSON"),
        "gateway.t3": (
            Load(INFER.format("iris"), b.iris_binary, T3_CONNECTIONS, "rows"),
            "iris binary 10k rows",
        ),
        "gateway.t4.off": (Load(INFER.format("mlp"), b.mlp, T4_CONNECTIONS), "mlp, no batching"),
        "gateway.t5.pmml": (Load(INFER.format("iris-pmml"), b.pmml, T5_CONNECTIONS), "PMML"),
        "gateway.t5.savedmodel": (
            Load(INFER.format("keras"), b.keras, T5_CONNECTIONS),
            "SavedModel",
        ),
    }


def gateway(ctx: Context) -> Figures:
    if not serve_available():
        reason = "`modelport serve` is not available in this checkout"
        print(f"  gateway: {reason}; its rows are not available", flush=True)
        keys = [
            *_loads(ctx),
            "gateway.t4.on",
            *GRPC_LOADS,
            "gateway.t6.startup",
            "gateway.t6.heavy",
        ]
        return {k: not_available("", "gateway", reason) for k in keys}
    figures = _serve_runs(ctx)
    figures.update(startup(ctx))
    return figures


GRPC_LOADS = {
    "gateway.grpc.t1": GrpcLoad(GRPC_CONNECTIONS),
    "gateway.grpc.t2": GrpcLoad(1, "p50"),
}


def _serve_runs(ctx: Context) -> Figures:
    port, grpc_port = free_ports(2)
    command = serve_command(ctx.prepared.repo, port, grpc_port)
    figures: Figures = {}
    try:
        with serving("gateway", command, port, READY_PATH, ctx.workdir / "gateway.log") as s:
            figures["gateway.ready"] = {"value": s.ready_seconds, "unit": "s", "how": "all"}
            for key, (load, how) in _loads(ctx).items():
                print(f"  {key}: {how}, {load.connections} conn", flush=True)
                figures[key] = measure(s, load, ctx.seconds, ctx.repeat, how)
            figures.update(_grpc(ctx, grpc_port))
            figures["gateway.t4.on"] = _batched(ctx, s)
    except ServerFailed as exc:
        figures["gateway.ready"] = failed("s", "modelport serve", str(exc))
        for key, (load, how) in _loads(ctx).items():
            figures.setdefault(key, failed(load.unit, how, "the gateway did not start or died"))
    return figures


def _grpc(ctx: Context, grpc_port: int) -> Figures:
    how = "iris 1 row, V2 ModelInfer raw contents"
    if not grpc_available():
        return {k: not_available(g.unit, how, "no --grpc-port") for k, g in GRPC_LOADS.items()}
    request = write_request(ctx.workdir, "iris")
    figures = {}
    for key, load in GRPC_LOADS.items():
        print(f"  {key}: {how}, {load.connections} conn", flush=True)
        figures[key] = measure_grpc(grpc_port, request, load, ctx.seconds, ctx.repeat, how)
    return figures


def _batched(ctx: Context, server: Server) -> dict[str, object]:
    how = f"mlp-batched, max_batch_size={BATCHING.max_batch_size}, "
    how += f"max_queue_delay_us={BATCHING.max_queue_delay_us}"
    if not enable_batching(server.base_url, ctx.prepared.repo, "mlp-batched", BATCHING):
        return not_available("req/s", how, "the gateway's batching config API is not wired in")
    print(f"  gateway.t4.on: {how}, {T4_CONNECTIONS} conn", flush=True)
    load = Load(INFER.format("mlp-batched"), ctx.bodies.mlp, T4_CONNECTIONS)
    return measure(server, load, ctx.seconds, ctx.repeat, how)


def startup(ctx: Context) -> Figures:
    """T6: spawn to ready on the ONNX-only repository, and which runtimes got loaded."""
    times, heavy = [], set()
    for attempt in range(STARTS):
        port, grpc_port = free_ports(2)
        command = serve_command(ctx.prepared.onnx_repo, port, grpc_port)
        log = ctx.workdir / f"gateway-start-{attempt}.log"
        try:
            with serving("gateway", command, port, READY_PATH, log, timeout=60) as server:
                times.append(server.ready_seconds)
                probe(server, Load(INFER.format("iris"), ctx.bodies.iris, 1))
                heavy |= heavy_runtimes(server.process.pid)
        except ServerFailed as exc:
            return {"gateway.t6.startup": failed("s", "ONNX-only repo", str(exc))}
    how = f"spawn to ready, ONNX-only repo, gRPC on, median of {STARTS}"
    return {
        "gateway.t6.startup": {"value": statistics.median(times), "unit": "s", "how": how,
                               "repeats": [round(t, 3) for t in times]},
        "gateway.t6.heavy": {"value": sorted(heavy), "unit": "runtimes", "how": "/proc maps"},
    }  # fmt: skip


def heavy_runtimes(pid: int) -> set[str]:
    """Heavy runtimes mapped into `pid` or any of its descendants."""
    found = set()
    for member in process_tree(pid):
        try:
            maps = Path(f"/proc/{member}/maps").read_text()
        except OSError:
            continue
        found |= {name for name, marker in HEAVY.items() if marker in maps}
    return found
