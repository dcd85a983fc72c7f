"""Open Inference Protocol (KServe V2) REST endpoints, shaped as Triton and MLServer answer.

Every handler takes the raw Request and returns a raw Response: decode, one DataPlane call,
encode. `{version}` may be a number or an alias.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import Unavailable
from gateway.rest.auth import Auth
from gateway.rest.common import json_body, json_response, path_params, raw_headers
from gateway.rest.replies import as_response
from gateway.rest.v2_infer import V2Infer
from gateway.serving.dataplane import DataPlane, ModelInfo

MODEL = "/v2/models/{model}"
VERSION = "/v2/models/{model}/versions/{version}"


class V2Endpoints:
    """The V2 handlers; the fast lane calls `lane` (V2 infer as a raw exchange)."""

    def __init__(self, plane: DataPlane, auth: Auth, body_limit: int) -> None:
        self.plane = plane
        self.auth = auth
        self.body_limit = body_limit
        self.lane = V2Infer(plane, auth, body_limit)

    async def server_metadata(self, request: Request) -> Response:
        self.auth.reader(request)
        return json_response(self.plane.server_metadata())

    async def live(self, request: Request) -> Response:
        return json_response({"live": self.plane.live()})

    async def ready(self, request: Request) -> Response:
        reason = self.plane.readiness()
        if reason is not None:
            raise Unavailable(reason)
        return json_response({"ready": True})

    async def model_metadata(self, request: Request) -> Response:
        self.auth.reader(request)
        params = request.path_params
        info = self.plane.model_info(params["model"], params.get("version"))
        return json_response(render_metadata(info))

    async def model_ready(self, request: Request) -> Response:
        self.auth.reader(request)
        params = request.path_params
        self.plane.model_ready(params["model"], params.get("version"))
        return json_response({"name": params["model"], "ready": True})

    async def infer(self, request: Request) -> Response:
        """The fast lane serves this path (`self.lane`); FastAPI's route is there for /docs."""
        reply = await self.lane(
            request.scope, request.receive, raw_headers(request), request.path_params
        )
        return as_response(reply)

    def router(self) -> APIRouter:
        router = APIRouter(tags=["Open Inference Protocol (V2)"])
        router.add_api_route(
            "/v2", self.server_metadata, methods=["GET"], summary="Server metadata"
        )
        router.add_api_route("/v2/health/live", self.live, methods=["GET"], summary="Server live")
        router.add_api_route(
            "/v2/health/ready", self.ready, methods=["GET"], summary="Server ready"
        )
        for path, names in ((MODEL, ("model",)), (VERSION, ("model", "version"))):
            docs = path_params(*names)
            suffix = " (version number or alias)" if "version" in names else ""
            router.add_api_route(
                path,
                self.model_metadata,
                methods=["GET"],
                summary="Model metadata" + suffix,
                openapi_extra=docs,
            )
            router.add_api_route(
                path + "/ready",
                self.model_ready,
                methods=["GET"],
                summary="Model ready" + suffix,
                openapi_extra=docs,
            )
            router.add_api_route(
                path + "/infer",
                self.infer,
                methods=["POST"],
                summary="Inference" + suffix,
                openapi_extra={
                    **docs,
                    **json_body("V2 request; Triton's binary extension accepted"),
                },
            )
        return router


def render_metadata(info: ModelInfo) -> dict[str, Any]:
    """V2 model metadata; a classifier's class order (the `probabilities` columns) is in
    `parameters.labels`, where V2 servers put what the protocol has no field for."""
    signature = info.signature
    metadata: dict[str, Any] = {
        "name": info.name,
        "versions": [str(v) for v in info.versions],
        "platform": info.platform,
        "inputs": [spec.to_dict() for spec in signature.inputs],
        "outputs": [spec.to_dict() for spec in signature.outputs],
    }
    if info.labels is not None:
        metadata["parameters"] = {"labels": list(info.labels)}
    return metadata
