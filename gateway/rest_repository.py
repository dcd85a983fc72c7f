"""Repository endpoints: Triton's index/load/unload, plus upload, aliases and delete
(reload, model configs and release groups are in rest_rollout).

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

MODELS = "/v2/repository/models/{model}"
UPLOAD_PATH = f"{MODELS}/versions"
ALIAS_PATH = f"{MODELS}/aliases/{{alias}}"
_FORM_FIELDS = 8


def is_upload(method: str, path: str) -> bool:
    """True for the upload endpoint, which has its own body limit."""
    return (
        method == "POST"
        and path.startswith("/v2/repository/models/")
        and path.endswith("/versions")
    )


class RepositoryEndpoints:
    def __init__(self, plane: DataPlane, auth: Auth, body_limit: int) -> None:
        self.plane = plane
        self.auth = auth
        self.body_limit = body_limit

    async def index(self, request: Request) -> Response:
        self.auth.reader(request)
        body = await json_or_empty(request, self.body_limit)
        statuses = await self.plane.index(ready_only=body.get("ready") is True)
        return json_response([render_index(s) for s in statuses])

    async def load(self, request: Request) -> Response:
        self.auth.admin(request)
        await json_or_empty(request, self.body_limit)  # Triton's config overrides: ignored
        await self.plane.load(request.path_params["model"])
        return json_response({})

    async def unload(self, request: Request) -> Response:
        self.auth.admin(request)
        await json_or_empty(request, self.body_limit)
        await self.plane.unload(request.path_params["model"])
        return json_response({})

    async def upload(self, request: Request) -> Response:
        self.auth.admin(request)
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
            alias = _text(form, "alias")
            plan = self.plane.plan_upload(name, original, _text(form, "to"), alias)
            with tempfile.TemporaryDirectory(prefix="modelport-upload-") as tmp:
                path = Path(tmp) / safe_filename(original)
                await run_in_threadpool(_save, file.file, path)
                sample = await _sample(form, Path(tmp))
                manifest = await self.plane.upload(name, path, plan, alias, sample)
        return json_response(manifest.to_dict(), status=201)

    async def set_alias(self, request: Request) -> Response:
        self.auth.admin(request)
        model, alias = request.path_params["model"], request.path_params["alias"]
        body = await json_or_empty(request, self.body_limit)
        target = await self.plane.set_alias(model, alias, body)
        return json_response({"model": model, "alias": alias, **target.to_dict()})

    async def delete_alias(self, request: Request) -> Response:
        self.auth.admin(request)
        model, alias = request.path_params["model"], request.path_params["alias"]
        await self.plane.delete_alias(model, alias)
        return json_response({"model": model, "alias": alias, "deleted": True})

    async def delete_version(self, request: Request) -> Response:
        self.auth.admin(request)
        model, version = request.path_params["model"], request.path_params["version"]
        await self.plane.delete_version(model, version)
        return json_response({"model": model, "version": version, "deleted": True})

    def router(self) -> APIRouter:
        router = APIRouter(tags=["Model repository"])
        model = path_params("model")
        model_alias = path_params("model", "alias")
        routes: list[tuple[str, Any, str, str, dict[str, Any]]] = [
            ("/v2/repository/index", self.index, "POST", "Repository index", {}),
            (f"{MODELS}/load", self.load, "POST", "Load", model),
            (f"{MODELS}/unload", self.unload, "POST", "Unload", model),
            (
                UPLOAD_PATH,
                self.upload,
                "POST",
                "Upload an artifact, or a model to convert (multipart: file, to, alias, sample)",
                {**model, **_multipart_doc()},
            ),
            (
                ALIAS_PATH,
                self.set_alias,
                "PUT",
                "Point an alias at a version, a weighted split, with an optional shadow",
                {
                    **model_alias,
                    **json_body(
                        '{"version": N} or {"weights": {"N": percent, ...}}, optionally with '
                        '"shadow": {"version": M, "percent": P}'
                    ),
                },
            ),
            (ALIAS_PATH, self.delete_alias, "DELETE", "Delete an alias", model_alias),
            (
                f"{MODELS}/versions/{{version}}",
                self.delete_version,
                "DELETE",
                "Delete a version",
                path_params("model", "version"),
            ),
        ]
        for path, handler, method, summary, docs in routes:
            router.add_api_route(
                path, handler, methods=[method], summary=summary, openapi_extra=docs or None
            )
        return router


async def json_or_empty(request: Request, limit: int) -> dict[str, Any]:
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


def render_index(status: VersionStatus) -> dict[str, Any]:
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
