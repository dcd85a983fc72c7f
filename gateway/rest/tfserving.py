"""TensorFlow Serving REST API (v1): model status, metadata and predict.

`/versions/{v}` takes a number and `/labels/{l}` an alias, as in TF Serving. The response
bodies are TF Serving's; the version that served a predict is in the
`X-Modelport-Model-Version` header, since TF Serving's body has no place for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope

from gateway.control.control_plane import ControlPlane
from gateway.control.statuses import VersionState, VersionStatus
from gateway.errors import InvalidInput, NotFound
from gateway.rest.auth import Auth
from gateway.rest.codec_tfserving import DEFAULT_SIGNATURE, decode_http, encode_predict
from gateway.rest.common import json_body, json_response, path_params, raw_headers
from gateway.rest.limits import read_request_body
from gateway.rest.replies import JSON_TYPE, Reply, as_response
from gateway.rest.routing_headers import release_headers, route_hints
from gateway.serving.dataplane import DataPlane, ModelInfo
from model_repo.signature import TensorSpec

BASES = (
    ("/v1/models/{model}", ("model",)),
    ("/v1/models/{model}/versions/{version}", ("model", "version")),
    ("/v1/models/{model}/labels/{label}", ("model", "label")),
)
_TF_STATE = {
    VersionState.LOADING: "LOADING",
    VersionState.READY: "AVAILABLE",
    VersionState.UNLOADING: "UNLOADING",
    VersionState.FAILED: "END",
    VersionState.UNAVAILABLE: "END",
}
_TF_DTYPE = {
    "BOOL": "DT_BOOL",
    "UINT8": "DT_UINT8",
    "UINT16": "DT_UINT16",
    "UINT32": "DT_UINT32",
    "UINT64": "DT_UINT64",
    "INT8": "DT_INT8",
    "INT16": "DT_INT16",
    "INT32": "DT_INT32",
    "INT64": "DT_INT64",
    "FP16": "DT_HALF",
    "FP32": "DT_FLOAT",
    "FP64": "DT_DOUBLE",
    "BYTES": "DT_STRING",
}


class TFServingEndpoints:
    """The TF Serving handlers; `lane` (predict as a raw exchange) is what the fast lane
    calls."""

    def __init__(
        self, plane: DataPlane, control: ControlPlane, auth: Auth, body_limit: int
    ) -> None:
        self.plane = plane
        self.control = control
        self.auth = auth
        self.body_limit = body_limit

    async def status(self, request: Request) -> Response:
        self.auth.reader(request)
        name, ref = _target(request.path_params)
        statuses = self.control.version_statuses(name, ref)
        return json_response({"model_version_status": [_render_status(s) for s in statuses]})

    async def metadata(self, request: Request) -> Response:
        self.auth.reader(request)
        name, ref = _target(request.path_params)
        return json_response(_render_metadata(self.plane.model_info(name, ref)))

    async def lane(
        self,
        scope: Scope,
        receive: Receive,
        headers: Mapping[bytes, bytes],
        params: Mapping[str, str | None],
    ) -> Reply:
        self.auth.reader_header(headers.get(b"authorization"))
        name, ref = _target(params)
        body = await read_request_body(receive, headers, self.body_limit)
        parsed, result, revision = await self.plane.infer_request(
            name, ref, route_hints(headers), decode_http, body, headers
        )
        content = encode_predict(result, parsed.row_format)
        reply = [
            JSON_TYPE,
            (b"content-length", b"%d" % len(content)),
            (b"x-modelport-model-version", str(result.model_version).encode()),
            *release_headers(revision, headers),
        ]
        return 200, reply, content

    async def predict(self, request: Request) -> Response:
        """The fast lane serves this path (`self.lane`); FastAPI's route is there for /docs."""
        params = {k: v for k, v in request.path_params.items() if v}
        return as_response(
            await self.lane(request.scope, request.receive, raw_headers(request), params)
        )

    async def unsupported(self, request: Request) -> Response:
        raise NotFound(
            f"no such TF Serving endpoint: POST {request.url.path}; modelport serves :predict "
            "(not :classify or :regress)"
        )

    def router(self) -> APIRouter:
        router = APIRouter(tags=["TensorFlow Serving REST (v1)"])
        for base, names in BASES:
            docs = path_params(*names)
            router.add_api_route(
                base, self.status, methods=["GET"], summary="Model status", openapi_extra=docs
            )
            router.add_api_route(
                base + "/metadata",
                self.metadata,
                methods=["GET"],
                summary="Model metadata",
                openapi_extra=docs,
            )
            router.add_api_route(
                base + ":predict",
                self.predict,
                methods=["POST"],
                summary="Predict (instances or inputs)",
                openapi_extra={**docs, **json_body('{"instances": [...]} or {"inputs": ...}')},
            )
        router.add_api_route(
            "/v1/models/{rest:path}", self.unsupported, methods=["POST"], include_in_schema=False
        )
        return router


def _target(params: Mapping[str, str | None]) -> tuple[str, str | None]:
    version = params.get("version")
    if version is not None and not (version.isascii() and version.isdigit()):
        raise InvalidInput(
            f"version {version!r} is not a number; use /labels/{version} for a label"
        )
    label = params.get("label")
    if label is not None and label.isascii() and label.isdigit():
        raise InvalidInput(f"label {label!r} is a number; use /versions/{label} for a version")
    return str(params["model"]), version or label


def _render_status(status: VersionStatus) -> dict[str, Any]:
    failed = status.state in (VersionState.FAILED, VersionState.UNAVAILABLE)
    return {
        "version": "" if status.version is None else str(status.version),
        "state": _TF_STATE[status.state],
        "status": {
            "error_code": "UNKNOWN" if status.state is VersionState.FAILED else "OK",
            "error_message": status.reason if failed else "",
        },
    }


def _tensor_info(spec: TensorSpec) -> dict[str, Any]:
    return {
        "dtype": _TF_DTYPE[spec.datatype],
        "tensor_shape": {
            "dim": [{"size": str(d), "name": ""} for d in spec.shape],
            "unknown_rank": False,
        },
        "name": spec.name,
    }


def _render_metadata(info: ModelInfo) -> dict[str, Any]:
    signature = {
        "inputs": {s.name: _tensor_info(s) for s in info.signature.inputs},
        "outputs": {s.name: _tensor_info(s) for s in info.signature.outputs},
        "method_name": "tensorflow/serving/predict",
    }
    return {
        "model_spec": {"name": info.name, "signature_name": "", "version": str(info.version)},
        "metadata": {"signature_def": {"signature_def": {DEFAULT_SIGNATURE: signature}}},
    }
