"""Endpoints of zero-downtime serving: reload, model configs (version policies), releases.

Reads are open like the index; changes need the admin token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from gateway.auth import Auth
from gateway.rest_common import json_body, json_response, path_params
from gateway.rest_repository import MODELS, json_or_empty, render_index
from gateway.rollout import Rollout

CONFIG_PATH = f"{MODELS}/config"
RELEASES = "/v2/repository/releases"
RELEASE_PATH = f"{RELEASES}/{{release}}"


class RolloutEndpoints:
    def __init__(self, rollout: Rollout, auth: Auth, body_limit: int) -> None:
        self.rollout = rollout
        self.auth = auth
        self.body_limit = body_limit

    async def reload(self, request: Request) -> Response:
        self.auth.admin(request)
        await json_or_empty(request, self.body_limit)
        statuses = await self.rollout.reload()
        return json_response([render_index(s) for s in statuses])

    async def config(self, request: Request) -> Response:
        self.auth.reader(request)
        model = request.path_params["model"]
        config = await self.rollout.config(model)
        return json_response({"name": model, **config.to_dict()})

    async def set_config(self, request: Request) -> Response:
        self.auth.admin(request)
        model = request.path_params["model"]
        body = await json_or_empty(request, self.body_limit)
        config = await self.rollout.set_config(model, body)
        return json_response({"name": model, **config.to_dict()})

    async def releases(self, request: Request) -> Response:
        self.auth.reader(request)
        return json_response({"releases": await self.rollout.releases()})

    async def release(self, request: Request) -> Response:
        self.auth.reader(request)
        return json_response(await self.rollout.release(request.path_params["release"]))

    async def set_release(self, request: Request) -> Response:
        self.auth.admin(request)
        body = await json_or_empty(request, self.body_limit)
        return json_response(await self.rollout.set_release(request.path_params["release"], body))

    async def delete_release(self, request: Request) -> Response:
        self.auth.admin(request)
        name = request.path_params["release"]
        await self.rollout.delete_release(name)
        return json_response({"name": name, "deleted": True})

    def router(self) -> APIRouter:
        router = APIRouter(tags=["Versions and releases"])
        model, release = path_params("model"), path_params("release")
        policy = json_body('{"version_policy": {"latest": N}, "preserve": "availability"}')
        pins = json_body('{"models": {"<model>": N, ...}}')
        routes: list[tuple[str, Any, str, str, dict[str, Any]]] = [
            ("/v2/repository/reload", self.reload, "POST", "Re-read the repository now", {}),
            (CONFIG_PATH, self.config, "GET", "A model's version policy", model),
            (CONFIG_PATH, self.set_config, "PUT", "Set a version policy", {**model, **policy}),
            (RELEASES, self.releases, "GET", "Every release group", {}),
            (RELEASE_PATH, self.release, "GET", "A release group", release),
            (RELEASE_PATH, self.set_release, "PUT", "Pin a release", {**release, **pins}),
            (RELEASE_PATH, self.delete_release, "DELETE", "Delete a release group", release),
        ]
        for path, handler, method, summary, docs in routes:
            router.add_api_route(
                path, handler, methods=[method], summary=summary, openapi_extra=docs or None
            )
        return router
