"""Repository endpoints: Triton's index/load/unload, plus upload, aliases and delete.

Everything that changes the repository or what is loaded needs the admin token.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

import orjson
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import Auth
from gateway.dataplane import DataPlane
from gateway.errors import InvalidInput, UnsupportedMediaType
from gateway.limits import read_body
from gateway.rest_common import json_body, json_response, path_params, raw_headers
from gateway.served import VersionStatus
from gateway.uploads import safe_filename

UPLOAD_PATH = "/v2/repository/models/{model}/versions"
_FORM_FIELDS = 8


def is_upload(method: str, path: str) -> bool:
    """True for the upload endpoint, which has its own body limit."""
    return (
        method == "POST"
        and path.startswith("/v2/repository/models/")
        and path.endswith("/versions")
    )


def repository_router(plane: DataPlane, auth: Auth, body_limit: int) -> APIRouter:
    router = APIRouter(tags=["Model repository"])

    async def index(request: Request) -> Response:
        auth.reader(request)
        body = await _json_or_empty(request, body_limit)
        statuses = await plane.index(ready_only=body.get("ready") is True)
        return json_response([_render_index(s) for s in statuses])

    async def load(request: Request) -> Response:
        auth.admin(request)
        await _json_or_empty(request, body_limit)  # Triton's config overrides are not supported
        await plane.load(request.path_params["model"])
        return json_response({})

    async def unload(request: Request) -> Response:
        auth.admin(request)
        await _json_or_empty(request, body_limit)
        await plane.unload(request.path_params["model"])
        return json_response({})

    async def upload(request: Request) -> Response:
        auth.admin(request)
        name = request.path_params["model"]
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise UnsupportedMediaType(
                "upload a model as multipart/form-data with the file in the field 'file'"
            )
        async with request.form(max_files=2, max_fields=_FORM_FIELDS) as form:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise InvalidInput("the form has no file in the field 'file'")
            original = file.filename or ""
            plan = plane.plan_upload(name, original, _text(form, "to"))
            with tempfile.TemporaryDirectory(prefix="modelport-upload-") as tmp:
                path = Path(tmp) / safe_filename(original)
                await run_in_threadpool(_save, file.file, path)
                sample = await _sample(form, Path(tmp))
                manifest = await plane.upload(name, path, plan, _text(form, "alias"), sample)
        return json_response(manifest.to_dict(), status=201)

    async def set_alias(request: Request) -> Response:
        auth.admin(request)
        params = request.path_params
        body = await _json_or_empty(request, body_limit)
        target = await plane.set_alias(params["model"], params["alias"], body)
        return json_response(
            {"model": params["model"], "alias": params["alias"], **target.to_dict()}
        )

    async def delete_alias(request: Request) -> Response:
        auth.admin(request)
        params = request.path_params
        await plane.delete_alias(params["model"], params["alias"])
        return json_response({"model": params["model"], "alias": params["alias"], "deleted": True})

    async def delete_version(request: Request) -> Response:
        auth.admin(request)
        params = request.path_params
        await plane.delete_version(params["model"], params["version"])
        return json_response(
            {"model": params["model"], "version": params["version"], "deleted": True}
        )

    model = path_params("model")
    router.add_api_route(
        "/v2/repository/index", index, methods=["POST"], summary="Repository index"
    )
    router.add_api_route(
        "/v2/repository/models/{model}/load",
        load,
        methods=["POST"],
        summary="Load",
        openapi_extra=model,
    )
    router.add_api_route(
        "/v2/repository/models/{model}/unload",
        unload,
        methods=["POST"],
        summary="Unload",
        openapi_extra=model,
    )
    router.add_api_route(
        UPLOAD_PATH,
        upload,
        methods=["POST"],
        status_code=201,
        summary="Upload an artifact, or a model to convert (multipart: file, to, alias, sample)",
        openapi_extra={**model, **_multipart_doc()},
    )
    alias_path = "/v2/repository/models/{model}/aliases/{alias}"
    router.add_api_route(
        alias_path,
        set_alias,
        methods=["PUT"],
        summary="Point an alias at a version",
        openapi_extra={**path_params("model", "alias"), **json_body('{"version": N}')},
    )
    router.add_api_route(
        alias_path,
        delete_alias,
        methods=["DELETE"],
        summary="Delete an alias",
        openapi_extra=path_params("model", "alias"),
    )
    router.add_api_route(
        "/v2/repository/models/{model}/versions/{version}",
        delete_version,
        methods=["DELETE"],
        summary="Delete a version",
        openapi_extra=path_params("model", "version"),
    )
    return router


async def _json_or_empty(request: Request, limit: int) -> dict[str, Any]:
    raw = await read_body(request, limit, raw_headers(request).get(b"content-encoding"))
    if not raw.strip():
        return {}
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidInput("the request body must be a JSON object")
    return doc


def _text(form: FormData, field: str) -> str | None:
    value = form.get(field)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"the form field {field!r} must be text, not a file")
    return value


async def _sample(form: FormData, folder: Path) -> Path | None:
    """The optional parity sample, saved next to the model under a name of its own."""
    sample = form.get("sample")
    if sample is None:
        return None
    if not isinstance(sample, UploadFile):
        raise InvalidInput("the form field 'sample' must be a file (.csv, .npy, .npz, .parquet)")
    path = folder / "sample" / safe_filename(sample.filename or "sample")
    path.parent.mkdir()
    await run_in_threadpool(_save, sample.file, path)
    return path


def _save(source: IO[bytes], path: Path) -> None:
    with path.open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


def _render_index(status: VersionStatus) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": status.name}
    if status.version is not None:
        entry["version"] = str(status.version)
    entry["state"] = status.state.value
    entry["reason"] = status.reason
    return entry


def _multipart_doc() -> dict[str, Any]:
    schema = {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary"},
            "to": {"type": "string", "enum": ["onnx", "pmml", "savedmodel"]},
            "alias": {"type": "string"},
            "sample": {"type": "string", "format": "binary"},
        },
    }
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }
