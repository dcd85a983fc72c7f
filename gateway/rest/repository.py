"""Repository endpoints: Triton's index/load/unload, uploads, aliases, deletes, and what
zero-downtime serving adds (reload, model configs, release groups).

Reads are open like the index; everything that changes the repository or what is loaded
needs the admin token.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.control.control_plane import ControlPlane
from gateway.control.statuses import VersionStatus
from gateway.control.uploads import safe_filename
from gateway.errors import UnsupportedMediaType
from gateway.rest import upload_form
from gateway.rest.auth import Auth
from gateway.rest.common import json_body, json_response, object_or_empty, path_params

MODELS = "/v2/repository/models/{model}"
ALIAS_PATH = f"{MODELS}/aliases/{{alias}}"
CONFIG_PATH = f"{MODELS}/config"
RELEASES = "/v2/repository/releases"
RELEASE_PATH = f"{RELEASES}/{{release}}"
Route = tuple[str, Any, str, str, dict[str, Any]]  # path, handler, method, summary, OpenAPI


class RepositoryEndpoints:
    def __init__(self, control: ControlPlane, auth: Auth, body_limit: int) -> None:
        self.control = control
        self.auth = auth
        self.body_limit = body_limit

    async def index(self, request: Request) -> Response:
        self.auth.reader(request)
        body = await object_or_empty(request, self.body_limit)
        statuses = await self.control.index(ready_only=body.get("ready") is True)
        return json_response([render_index(s) for s in statuses])

    async def load(self, request: Request) -> Response:
        self.auth.admin(request)
        await object_or_empty(request, self.body_limit)  # Triton's config overrides: ignored
        await self.control.load(request.path_params["model"])
        return json_response({})

    async def unload(self, request: Request) -> Response:
        self.auth.admin(request)
        await object_or_empty(request, self.body_limit)
        await self.control.unload(request.path_params["model"])
        return json_response({})

    async def upload(self, request: Request) -> Response:
        self.auth.admin(request)
        name = request.path_params["model"]
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise UnsupportedMediaType(
                "upload a model as multipart/form-data with the file in the field 'file'"
            )
        async with request.form(max_files=2, max_fields=upload_form.MAX_FIELDS) as form:
            file = upload_form.model_file(form)
            original = file.filename or ""
            alias = upload_form.text_field(form, "alias")
            to = upload_form.text_field(form, "to")
            version = upload_form.version_field(form)
            plan = self.control.plan_upload(name, original, to, alias)
            with tempfile.TemporaryDirectory(prefix="modelport-upload-") as tmp:
                path = Path(tmp) / safe_filename(original)
                await upload_form.save_file(file, path)
                sample = await upload_form.save_sample(form, Path(tmp))
                manifest = await self.control.upload(name, path, plan, alias, sample, version)
        return json_response(manifest.to_dict(), status=201)

    async def set_alias(self, request: Request) -> Response:
        self.auth.admin(request)
        model, alias = request.path_params["model"], request.path_params["alias"]
        body = await object_or_empty(request, self.body_limit)
        target = await self.control.set_alias(model, alias, body)
        return json_response({"model": model, "alias": alias, **target.to_dict()})

    async def delete_alias(self, request: Request) -> Response:
        self.auth.admin(request)
        model, alias = request.path_params["model"], request.path_params["alias"]
        await self.control.delete_alias(model, alias)
        return json_response({"model": model, "alias": alias, "deleted": True})

    async def delete_version(self, request: Request) -> Response:
        self.auth.admin(request)
        model, version = request.path_params["model"], request.path_params["version"]
        await self.control.delete_version(model, version)
        return json_response({"model": model, "version": version, "deleted": True})

    async def reload(self, request: Request) -> Response:
        self.auth.admin(request)
        await object_or_empty(request, self.body_limit)
        statuses = await self.control.reload()
        return json_response([render_index(s) for s in statuses])

    async def config(self, request: Request) -> Response:
        self.auth.reader(request)
        model = request.path_params["model"]
        config = await self.control.config(model)
        return json_response({"name": model, **config.to_dict()})

    async def set_config(self, request: Request) -> Response:
        self.auth.admin(request)
        model = request.path_params["model"]
        body = await object_or_empty(request, self.body_limit)
        config = await self.control.set_config(model, body)
        return json_response({"name": model, **config.to_dict()})

    async def releases(self, request: Request) -> Response:
        self.auth.reader(request)
        return json_response({"releases": await self.control.releases()})

    async def release(self, request: Request) -> Response:
        self.auth.reader(request)
        return json_response(await self.control.release(request.path_params["release"]))

    async def set_release(self, request: Request) -> Response:
        self.auth.admin(request)
        body = await object_or_empty(request, self.body_limit)
        return json_response(await self.control.set_release(request.path_params["release"], body))

    async def delete_release(self, request: Request) -> Response:
        self.auth.admin(request)
        name = request.path_params["release"]
        await self.control.delete_release(name)
        return json_response({"name": name, "deleted": True})

    def router(self) -> APIRouter:
        router = APIRouter()
        for tag, routes in (
            ("Model repository", self._repository_routes()),
            ("Versions and releases", self._rollout_routes()),
        ):
            for path, handler, method, summary, docs in routes:
                router.add_api_route(
                    path,
                    handler,
                    methods=[method],
                    summary=summary,
                    openapi_extra=docs or None,
                    tags=[tag],
                )
        return router

    def _repository_routes(self) -> list[Route]:
        model = path_params("model")
        model_alias = path_params("model", "alias")
        alias_body = json_body(
            '{"version": N} or {"weights": {"N": percent, ...}}, optionally with '
            '"shadow": {"version": M, "percent": P}'
        )
        return [
            ("/v2/repository/index", self.index, "POST", "Repository index", {}),
            (f"{MODELS}/load", self.load, "POST", "Load", model),
            (f"{MODELS}/unload", self.unload, "POST", "Unload", model),
            (
                f"{MODELS}/versions",
                self.upload,
                "POST",
                "Upload an artifact, or a model to convert (multipart: file, to, alias, sample)",
                {**model, **upload_form.openapi()},
            ),
            (
                ALIAS_PATH,
                self.set_alias,
                "PUT",
                "Point an alias at a version, a weighted split, with an optional shadow",
                {**model_alias, **alias_body},
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

    def _rollout_routes(self) -> list[Route]:
        model, release = path_params("model"), path_params("release")
        policy = json_body('{"version_policy": {"latest": N}, "preserve": "availability"}')
        pins = json_body('{"models": {"<model>": N, ...}}')
        return [
            ("/v2/repository/reload", self.reload, "POST", "Re-read the repository now", {}),
            (CONFIG_PATH, self.config, "GET", "A model's version policy", model),
            (CONFIG_PATH, self.set_config, "PUT", "Set a version policy", {**model, **policy}),
            (RELEASES, self.releases, "GET", "Every release group", {}),
            (RELEASE_PATH, self.release, "GET", "A release group", release),
            (RELEASE_PATH, self.set_release, "PUT", "Pin a release", {**release, **pins}),
            (RELEASE_PATH, self.delete_release, "DELETE", "Delete a release group", release),
        ]


def render_index(status: VersionStatus) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": status.name}
    if status.version is not None:
        entry["version"] = str(status.version)
    entry["state"] = status.state.value
    entry["reason"] = status.reason
    return entry
