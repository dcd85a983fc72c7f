"""The ASGI entry point: inference requests take a fast lane, everything else goes to FastAPI.

FastAPI's per-request routing, dependency solving and middleware stack cost several times
what decoding a V2 request and running a small ONNX model cost, and so do Starlette's
Request and Response objects. The inference endpoints (V2 `infer`; TF Serving `:predict`,
`:classify`, `:regress`) are matched here with one regex per API; their handlers get the
raw scope, receive channel, headers and path parameters and return a `Reply` (status,
headers, body) that is sent as two ASGI messages. The FastAPI app still declares these
endpoints, so /docs and every other endpoint are unchanged. Every request passes the body
limit here, once.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import PayloadTooLarge, translate
from gateway.rest.limits import BodyLimit
from gateway.rest.replies import CLOSE, Reply, error_reply, send_reply

Params = Mapping[str, str | None]
RawHandler = Callable[[Scope, Receive, Mapping[bytes, bytes], Params], Awaitable[Reply]]
Lanes = list[tuple[re.Pattern[str], RawHandler]]

V2_INFER = re.compile(r"^/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer$")
TF_INFER = re.compile(
    r"^/v1/models/(?P<model>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r":(?P<verb>predict|classify|regress)$"
)


class FastLane:
    def __init__(self, api: ASGIApp, routes: Lanes, limits: BodyLimit) -> None:
        self.api = api
        self.routes = routes
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.api(scope, receive, send)  # lifespan
            return
        lane: RawHandler | None = None
        params: Params = {}
        if scope["method"] == "POST":
            path: str = scope["path"]
            for pattern, handler in self.routes:
                match = pattern.match(path)
                if match is not None:
                    lane, params = handler, match.groupdict()
                    break
        headers = dict(scope["headers"])  # ASGI servers send names in lower case
        if lane is None:
            limit = self.limits.limit_for(scope["method"], scope["path"])
        else:
            limit = self.limits.body_limit  # no upload takes the fast lane
        try:
            receive = self.limits.guard(limit, headers, receive)
        except PayloadTooLarge as error:
            # Refused unread: the connection closes rather than drain what was not read.
            status, reply, body = error_reply(error)
            await send_reply(send, (status, [*reply, CLOSE], body))
            return
        if lane is None:
            await self.api(scope, receive, send)
            return
        try:
            answer = await lane(scope, receive, headers, params)
        except Exception as exc:
            answer = error_reply(translate(exc))
        await send_reply(send, answer)
