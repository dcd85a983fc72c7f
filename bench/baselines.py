"""The baselines: the raw ASGI floor and MLServer (REST, and MLServer's gRPC port), each in
its own subprocess."""

from __future__ import annotations

from pathlib import Path

from bench import mlserver_env
from bench.context import INFER, T1_CONNECTIONS, T3_CONNECTIONS, T4_CONNECTIONS, Context
from bench.grpc_runs import GRPC_CONNECTIONS, GrpcLoad, measure_grpc, write_request
from bench.load import Figures, Load, failed, measure
from bench.raw_asgi import MODEL_ENV
from bench.servers import ServerFailed, free_port, free_ports, serving, uvicorn_command

FLOOR_APP = "bench.raw_asgi:create_app"


def floor(ctx: Context) -> Figures:
    """The floor on iris (T1, T2, T3 for reference) and on the MLP (T4 for reference)."""
    bodies, figures = ctx.bodies, {}
    iris = ctx.prepared.artifact("iris")
    loads = {
        "floor.t1": (Load(INFER.format("iris"), bodies.iris, T1_CONNECTIONS), "iris JSON"),
        "floor.t2": (Load(INFER.format("iris"), bodies.iris, 1, "p50"), "iris JSON"),
        "floor.t3": (
            Load(INFER.format("iris"), bodies.iris_binary, T3_CONNECTIONS, "rows"),
            "iris binary 10k rows",
        ),
    }
    figures.update(_floor_runs(ctx, iris, loads))
    mlp = {"floor.t4": (Load(INFER.format("mlp"), bodies.mlp, T4_CONNECTIONS), "mlp JSON")}
    figures.update(_floor_runs(ctx, ctx.prepared.artifact("mlp"), mlp))
    return figures


def _floor_runs(ctx: Context, model: Path, loads: dict[str, tuple[Load, str]]) -> Figures:
    port = free_port()
    command = uvicorn_command(FLOOR_APP, port)
    log = ctx.workdir / f"floor-{model.parent.parent.name}.log"
    figures = {}
    try:
        with serving("floor", command, port, "/v2/health/ready", log, {MODEL_ENV: str(model)}) as s:
            for key, (load, how) in loads.items():
                print(f"  {key}: {how}, {load.connections} conn", flush=True)
                figures[key] = measure(s, load, ctx.seconds, ctx.repeat, how)
    except ServerFailed as exc:
        figures |= {key: failed(load.unit, how, str(exc)) for key, (load, how) in loads.items()}
    return figures


def mlserver(ctx: Context) -> Figures:
    """MLServer's sklearn runtime on the array-fitted iris: default and lean settings."""
    print("  mlserver: preparing its virtual environment", flush=True)
    env = mlserver_env.ensure()
    figures: Figures = {
        "mlserver.install": {
            "value": env.install_seconds,
            "unit": "s",
            "how": f"MLServer {env.version} venv install"
            + (" (made by an earlier run, reused)" if env.reused else ""),
        }
    }
    variants = {
        "mlserver": mlserver_env.DEFAULT_SETTINGS,
        "mlserver-lean": mlserver_env.LEAN_SETTINGS,
    }
    for name, settings in variants.items():
        try:
            figures.update(_mlserver_runs(ctx, env, name, settings))
        except ServerFailed as exc:
            figures[f"{name}.t1"] = failed("req/s", f"MLServer {name}", str(exc))
    return figures


def _mlserver_runs(
    ctx: Context, env: mlserver_env.MLServerEnv, name: str, settings: dict[str, object]
) -> Figures:
    http, grpc, metrics = free_ports(3)
    ports = {"http_port": http, "grpc_port": grpc, "metrics_port": metrics}
    folder = mlserver_env.model_folder(
        ctx.workdir / name, ctx.prepared.iris_joblib, ports, settings
    )
    ready = f"/v2/models/{mlserver_env.MODEL_NAME}/ready"
    how = f"MLServer {env.version} {_describe(settings)}, iris JSON"
    path = INFER.format(mlserver_env.MODEL_NAME)
    loads = {
        f"{name}.t1": Load(path, ctx.bodies.iris, T1_CONNECTIONS),
        f"{name}.t2": Load(path, ctx.bodies.iris, 1, "p50"),
    }
    figures = {}
    command = mlserver_env.command(env, folder)
    request = write_request(ctx.workdir, mlserver_env.MODEL_NAME)
    grpc_how = f"MLServer {env.version} {_describe(settings)}, iris 1 row, V2 ModelInfer raw"
    grpc_loads = {
        f"{name}.grpc.t1": GrpcLoad(GRPC_CONNECTIONS),
        f"{name}.grpc.t2": GrpcLoad(1, "p50"),
    }
    with serving(name, command, http, ready, ctx.workdir / f"{name}.log") as server:
        figures[f"{name}.ready"] = {"value": server.ready_seconds, "unit": "s", "how": how}
        for key, load in loads.items():
            print(f"  {key}: {how}, {load.connections} conn", flush=True)
            figures[key] = measure(server, load, ctx.seconds, ctx.repeat, how)
        for key, grpc_load in grpc_loads.items():
            print(f"  {key}: {grpc_how}, {grpc_load.connections} conn", flush=True)
            figures[key] = measure_grpc(grpc, request, grpc_load, ctx.seconds, ctx.repeat, grpc_how)
    return figures


def _describe(settings: dict[str, object]) -> str:
    if not settings:
        return "(defaults: 1 inference worker process, metrics on)"
    return "(parallel_workers=0, metrics off)"
