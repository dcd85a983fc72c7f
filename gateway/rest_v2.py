"""Open Inference Protocol (KServe V2) REST endpoints, shaped as Triton and MLServer answer.

Every handler takes the raw Request and returns a raw Response: decode, one DataPlane call,
encode. `{version}` may be a number or an alias.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import Auth
from gateway.codec_v2 import HEADER_LENGTH, decode_request, encode_response
from gateway.dataplane import DataPlane, ModelInfo
from gateway.errors import GatewayError, Unavailable
from gateway.limits import read_body
from gateway.rest_common import (
    JSON,
    OCTET_STREAM,
    json_body,
    json_response,
    path_params,
    raw_headers,
)
from gateway.rest_routing import lease_for, mirror, with_release

MODEL = "/v2/models/{model}"
VERSION = "/v2/models/{model}/versions/{version}"
_HEADER_LENGTH = HEADER_LENGTH.encode()


class V2Endpoints:
    """The V2 handlers; `infer` is also what the fast lane calls."""

    def __init__(self, plane: DataPlane, auth: Auth, body_limit: int) -> None:
        self.plane = plane
        self.auth = auth
        self.body_limit = body_limit

    async def server_metadata(self, request: Request) -> Response:
        self.auth.reader(request)
        return json_response(self.plane.server_metadata())

    async def live(self, request: Request) -> Response:
        return json_response({"live": self.plane.live()})

    async def ready(self, request: Request) -> Response:
        if not self.plane.ready():
            raise Unavailable("the server is still loading its models")
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
        self.auth.reader(request)
        params = request.path_params
        headers = raw_headers(request)
        body = await read_body(request, self.body_limit, headers.get(b"content-encoding"))
        plane = self.plane
        lease = lease_for(plane, params["model"], params.get("version"), headers)
        with lease as served:
            try:
                parsed = decode_request(body, _text(headers.get(_HEADER_LENGTH)))
            except GatewayError as exc:
                served.stats.failed(exc.status)
                raise
            result = await plane.infer(served, parsed.inference)
            if lease.shadow is not None:
                mirror(plane, lease, parsed.inference, result)
        content, extra = encode_response(result, parsed)
        if extra:
            return Response(
                content, headers=with_release(lease, headers, extra), media_type=OCTET_STREAM
            )
        return Response(content, headers=with_release(lease, headers, {}), media_type=JSON)

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


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def render_metadata(info: ModelInfo) -> dict[str, Any]:
    signature = info.signature
    return {
        "name": info.name,
        "versions": [str(v) for v in info.versions],
        "platform": info.platform,
        "inputs": [spec.to_dict() for spec in signature.inputs],
        "outputs": [spec.to_dict() for spec in signature.outputs],
    }
