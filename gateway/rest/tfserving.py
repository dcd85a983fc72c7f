"""TensorFlow Serving REST API (v1): model status, metadata, predict, classify and regress.

`/versions/{v}` takes a number and `/labels/{l}` an alias, as in TF Serving. The response
bodies are TF Serving's; the version that served an inference is in the
`X-Modelport-Model-Version` header, since TF Serving's body has no place for it. Errors are
TF Serving's too: an unknown label is a 400 (an unknown model or version a 404), and any
other `/v1/...` path a 400 `Malformed request`, never a redirect.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope

from gateway.control.control_plane import ControlPlane
from gateway.errors import InvalidInput, UnknownAlias
from gateway.rest import codec_tfexamples, codec_tfserving
from gateway.rest.auth import Auth
from gateway.rest.common import json_body, json_response, path_params, raw_headers
from gateway.rest.limits import read_request_body
from gateway.rest.replies import JSON_TYPE, Reply, as_response
from gateway.rest.routing_headers import release_headers, route_hints
from gateway.rest.tfserving_metadata import render_metadata, render_status
from gateway.serving.dataplane import DataPlane
from gateway.serving.inference import InferenceResult
from model_repo.staging import MAX_VERSION

BASES = (
    ("/v1/models/{model}", ("model",)),
    ("/v1/models/{model}/versions/{version}", ("model", "version")),
    ("/v1/models/{model}/labels/{label}", ("model", "label")),
)
VERBS = {
    "predict": ("Predict (instances or inputs)", '{"instances": [...]} or {"inputs": ...}'),
    "classify": ("Classify tf.Examples", '{"signature_name": "...", "examples": [{...}]}'),
    "regress": ("Regress tf.Examples", '{"signature_name": "...", "examples": [{...}]}'),
}
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]


class TFServingEndpoints:
    """The TF Serving handlers; `lane` (an inference as a raw exchange) is what the fast
    lane calls."""

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
        with _labels_as_bad_requests():
            statuses = self.control.version_statuses(name, ref)
        return json_response({"model_version_status": [render_status(s) for s in statuses]})

    async def metadata(self, request: Request) -> Response:
        self.auth.reader(request)
        name, ref = _target(request.path_params)
        with _labels_as_bad_requests():
            info = self.plane.model_info(name, ref)
        return json_response(render_metadata(info))

    async def lane(
        self,
        scope: Scope,
        receive: Receive,
        headers: Mapping[bytes, bytes],
        params: Mapping[str, str | None],
    ) -> Reply:
        self.auth.reader_header(headers.get(b"authorization"))
        name, ref = _target(params)
        decode, encode = _CODECS[params.get("verb") or "predict"]
        body = await read_request_body(receive, headers, self.body_limit)
        try:  # not `with _labels_as_bad_requests()`: a generator per request on this path
            parsed, result, revision = await self.plane.infer_request(
                name, ref, route_hints(headers), decode, body, headers
            )
        except UnknownAlias as exc:
            raise InvalidInput(exc.message) from None
        content = encode(parsed, result)
        reply = [
            JSON_TYPE,
            (b"content-length", b"%d" % len(content)),
            (b"x-modelport-model-version", str(result.model_version).encode()),
            *release_headers(revision, headers),
        ]
        return 200, reply, content

    async def infer(self, request: Request) -> Response:
        """The fast lane serves these paths (`self.lane`); FastAPI's routes are for /docs."""
        params = {k: v for k, v in request.path_params.items() if v}
        params["verb"] = request.url.path.rpartition(":")[2]
        return as_response(
            await self.lane(request.scope, request.receive, raw_headers(request), params)
        )

    async def malformed(self, request: Request) -> Response:
        path = request.url.path
        if path.rstrip("/") == "/v1/models":
            raise InvalidInput(f"Missing model name in request: {request.method} {path}")
        raise InvalidInput(
            f"Malformed request: {request.method} {path}; TF Serving's API is GET "
            "/v1/models/{m}[/versions/{v}|/labels/{l}][/metadata] and POST "
            "/v1/models/{m}[/versions/{v}|/labels/{l}]:predict|:classify|:regress"
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
            for verb, (summary, example) in VERBS.items():
                router.add_api_route(
                    f"{base}:{verb}",
                    self.infer,
                    methods=["POST"],
                    summary=summary,
                    openapi_extra={**docs, **json_body(example)},
                )
        router.add_api_route(
            "/v1/{rest:path}", self.malformed, methods=_METHODS, include_in_schema=False
        )
        return router


Decode = Callable[[bytes, Mapping[bytes, bytes]], Any]
Encode = Callable[[Any, InferenceResult], bytes]
_CODECS: dict[str, tuple[Decode, Encode]] = {
    "predict": (
        codec_tfserving.decode_http,
        lambda parsed, result: codec_tfserving.encode_predict(result, parsed.row_format),
    ),
    "classify": (
        codec_tfexamples.decode_classify,
        lambda _, result: codec_tfexamples.encode_classify(result),
    ),
    "regress": (
        codec_tfexamples.decode_regress,
        lambda _, result: codec_tfexamples.encode_regress(result),
    ),
}


@contextlib.contextmanager
def _labels_as_bad_requests() -> Iterator[None]:
    """TF Serving answers an unknown label with 400 (InvalidArgument), not 404."""
    try:
        yield
    except UnknownAlias as exc:
        raise InvalidInput(exc.message) from None


def _target(params: Mapping[str, str | None]) -> tuple[str, str | None]:
    model = str(params["model"])
    if ":" in model:  # GET /v1/models/m:predict: the status route matched a verb path
        raise InvalidInput(f"Malformed request: {model!r} is not a model name (GET of a verb?)")
    version = params.get("version")
    if version is not None and not (version.isascii() and version.isdigit()):
        raise InvalidInput(
            f"version {version!r} is not a number; use /labels/{version} for a label"
        )
    if version is not None and int(version) > MAX_VERSION:
        raise InvalidInput(f"Failed to convert version {version}: above the int64 range")
    label = params.get("label")
    if label is not None and label.isascii() and label.isdigit():
        raise InvalidInput(f"label {label!r} is a number; use /versions/{label} for a version")
    return model, version or label
