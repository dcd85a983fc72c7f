"""Build the ASGI app: repository, manager, data plane, REST routers, limits, errors; and
the gRPC front end beside it, on the same planes, started and stopped by its lifespan."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from converters.base import modelport_version
from gateway.config import ServerConfig, archive_limits
from gateway.control.control_plane import ControlPlane
from gateway.control.loader import ServingRepository, version_loader
from gateway.control.manager import ModelManager
from gateway.control.release_switch import ReleaseSwitch
from gateway.control.reloader import Reloader
from gateway.control.uploads import UploadPolicy
from gateway.errors import GatewayError, NotFound, translate
from gateway.logs import configure_logging
from gateway.metrics import GatewayMetrics
from gateway.rest.auth import Auth
from gateway.rest.fastlane import TF_INFER, V2_INFER, FastLane, Lanes
from gateway.rest.limits import BodyLimit
from gateway.rest.replies import error_response
from gateway.rest.repository import RepositoryEndpoints
from gateway.rest.tfserving import TFServingEndpoints
from gateway.rest.upload_form import is_upload
from gateway.rest.v2 import V2Endpoints
from gateway.serving.dataplane import DataPlane
from gateway.serving.live_runtimes import LiveRuntimes
from gateway.serving.routing_table import ServingTable
from model_repo.errors import ModelportError

log = logging.getLogger("modelport.gateway")
GRPC_GRACE = 5.0  # seconds calls in flight get to finish when the server stops


def create_app(config: ServerConfig, shared_ports: bool = False) -> FastLane:
    """The ASGI app to serve; its FastAPI part (OpenAPI, every endpoint) is `.api`.

    With `config.grpc_port` the lifespan runs the gRPC front end too, bound before the
    first load; `shared_ports`: a worker process, whose gRPC port the others share.
    """
    configure_logging()
    plane, control, pools = build_planes(config)
    auth = Auth(config.admin_token, config.inference_token)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        grpc_server = await _start_grpc(config, plane, control, auth, shared_ports)
        try:
            await control.start()
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(GRPC_GRACE)
            await control.stop()
            for pool in pools:
                pool.shutdown(wait=False, cancel_futures=True)

    api = FastAPI(
        title="modelport",
        version=modelport_version(),
        summary="ONNX, PMML and SavedModel artifacts behind the V2 and TF Serving REST APIs",
        lifespan=lifespan,
        redoc_url=None,
    )
    v2 = V2Endpoints(plane, auth, config.max_body_bytes)
    tfserving = TFServingEndpoints(plane, control, auth, config.max_body_bytes)
    api.include_router(v2.router())
    api.include_router(RepositoryEndpoints(control, auth, config.max_body_bytes).router())
    api.include_router(tfserving.router())

    async def prometheus(request: Request) -> Response:
        content, media_type = plane.metrics.render()
        return Response(content, media_type=media_type)

    api.add_api_route("/metrics", prometheus, methods=["GET"], summary="Prometheus metrics")
    _add_error_handlers(api)
    api.state.plane = plane
    api.state.control = control
    limits = BodyLimit(config.max_body_bytes, config.max_upload_bytes, is_upload)
    lanes: Lanes = [(V2_INFER, v2.lane), (TF_INFER, tfserving.lane)]
    return FastLane(api, lanes, limits)


def build_planes(
    config: ServerConfig,
) -> tuple[DataPlane, ControlPlane, tuple[ThreadPoolExecutor, ...]]:
    """The data plane, the control plane behind it, and the thread pools they run on."""
    runtimes = LiveRuntimes()
    repo = ServingRepository(config.repo_root, runtimes)  # config reads reach live runtimes
    metrics = GatewayMetrics()
    metrics.watch_batching(runtimes)
    inference_pool = ThreadPoolExecutor(config.inference_threads, "modelport-infer")
    # One admin thread: loads, uploads and conversions run one at a time, away from inference.
    admin_pool = ThreadPoolExecutor(1, "modelport-admin")
    table = ServingTable()
    loader = version_loader(metrics, inference_pool, runtimes)
    manager = ModelManager(repo, table, loader, admin_pool, config.drain_timeout)
    metrics.watch(manager)
    switch = ReleaseSwitch(manager, config.release_grace)
    reloader = Reloader(manager, switch, config.poll_interval)
    plane = DataPlane(table, metrics, modelport_version())
    upload_policy = UploadPolicy(config.allow_pickle, archive_limits(config))
    control = ControlPlane(plane, manager, switch, reloader, upload_policy)
    return plane, control, (inference_pool, admin_pool)


async def _start_grpc(
    config: ServerConfig, plane: DataPlane, control: ControlPlane, auth: Auth, shared: bool
) -> Any:
    """The started gRPC server, or None when gRPC is off (imported only when it is on)."""
    if not config.grpc_port:
        return None
    from gateway.grpc.server import start_grpc

    address = config.grpc_address
    return await start_grpc(plane, control, auth, address, config.max_body_bytes, shared)


def _add_error_handlers(app: FastAPI) -> None:
    async def gateway_error(request: Request, exc: Exception) -> Response:
        return error_response(translate(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return error_response(NotFound(f"no such endpoint: {request.url.path}"))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = headers.get("Allow", "none")
            message = (
                f"Method Not Allowed: {request.method} {request.url.path} (allowed: {allowed})"
            )
        else:
            message = str(exc.detail)
        error = GatewayError(message)
        error.status = exc.status_code
        response = error_response(error)
        response.headers.update(headers)  # 405's Allow
        return response

    app.add_exception_handler(GatewayError, gateway_error)
    app.add_exception_handler(ModelportError, gateway_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, gateway_error)
    app.add_middleware(_LastResort)


class _LastResort:
    """Answers an unexpected exception with the 500 of `translate` (which logs it once).

    Left to Starlette, the `Exception` handler answers too, but the exception is then raised
    on to the ASGI server, which logs it a second time and drops the client's keep-alive
    connection. This middleware sits inside that one, so the exception stops here.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started:  # too late for an answer: the server must close the connection
                raise
            await error_response(translate(exc))(scope, receive, send)
