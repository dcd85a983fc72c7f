"""The ASGI entry point: inference requests take a fast lane, everything else goes to FastAPI.

FastAPI's per-request routing, dependency solving and middleware stack cost several times
what decoding a V2 request and running a small ONNX model cost. The two inference endpoints
(V2 `infer`, TF Serving `:predict`) are matched here with one regex each and handed straight
to the same handlers FastAPI would call; the FastAPI app still declares them, so /docs and
every other endpoint are unchanged. The body limit is enforced here too, for every request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import translate
from gateway.limits import BodyLimit
from gateway.rest_common import error_response

log = logging.getLogger("modelport.gateway")
Handler = Callable[[Request], Awaitable[Response]]

V2_INFER = re.compile(r"^/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer$")
TF_PREDICT = re.compile(
    r"^/v1/models/(?P<model>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?:predict$"
)


class FastLane:
    def __init__(
        self,
        api: ASGIApp,
        routes: list[tuple[re.Pattern[str], Handler]],
        limits: BodyLimit,
    ) -> None:
        self.api = api
        self.routes = routes
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)  # lifespan
            return
        if scope["method"] == "POST":
            path: str = scope["path"]
            for pattern, handler in self.routes:
                match = pattern.match(path)
                if match is not None:
                    scope["path_params"] = {k: v for k, v in match.groupdict().items() if v}
                    await self.limits.run(scope, receive, send, _Served(handler))
                    return
        await self.limits.run(scope, receive, send, self.api)


class _Served:
    """One fast-lane handler as an ASGI app, with the gateway's error rendering."""

    __slots__ = ("handler",)

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self.handler(Request(scope, receive))
        except Exception as exc:
            response = error_response(translate(exc))
        await response(scope, receive, send)
