"""The ASGI entry point: inference requests take a fast lane, everything else goes to FastAPI.

FastAPI's per-request routing, dependency solving and middleware stack cost several times
what decoding a V2 request and running a small ONNX model cost, and so do Starlette's
Request and Response objects. The two inference endpoints (V2 `infer`, TF Serving
`:predict`) are matched here with one regex each; their handlers get the raw scope,
receive channel, headers and path parameters and return a `Reply` (status, headers, body)
that is sent as two ASGI messages. The FastAPI app still declares both endpoints, so /docs
and every other endpoint are unchanged. The body limit is enforced here too, for every
request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.errors import GatewayError, translate
from gateway.limits import BodyLimit, counting, too_large

log = logging.getLogger("modelport.gateway")
Headers = list[tuple[bytes, bytes]]
Reply = tuple[int, Headers, bytes]  # status, response headers, body
Params = Mapping[str, str | None]
RawHandler = Callable[[Scope, Receive, Mapping[bytes, bytes], Params], Awaitable[Reply]]
Handler = Callable[[Request], Awaitable[Response]]
Lanes = list[tuple[re.Pattern[str], RawHandler]]

V2_INFER = re.compile(r"^/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?/infer$")
TF_PREDICT = re.compile(
    r"^/v1/models/(?P<model>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?:predict$"
)
_JSON = (b"content-type", b"application/json")


class FastLane:
    def __init__(
        self,
        api: ASGIApp,
        routes: Lanes,
        limits: BodyLimit,
    ) -> None:
        self.api = api
        self.routes = routes
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path: str = scope["path"]
            for pattern, handler in self.routes:
                match = pattern.match(path)
                if match is not None:
                    await self._serve(handler, match.groupdict(), scope, receive, send)
                    return
        if scope["type"] != "http":
            await self.api(scope, receive, send)  # lifespan
            return
        await self.limits.run(scope, receive, send, self.api)

    async def _serve(
        self, handler: RawHandler, params: Params, scope: Scope, receive: Receive, send: Send
    ) -> None:
        headers = dict(scope["headers"])  # ASGI servers send names in lower case
        limit = self.limits.body_limit
        declared = headers.get(b"content-length")
        if declared is None or not declared.isdigit():
            receive = counting(receive, limit)
        elif int(declared) > limit:
            # Refused unread: the connection closes rather than drain what was not read.
            status, reply, body = error_reply(too_large(int(declared), limit))
            reply.append((b"connection", b"close"))
            await _send(send, status, reply, body)
            return
        try:
            status, reply, body = await handler(scope, receive, headers, params)
        except Exception as exc:
            status, reply, body = error_reply(translate(exc))
        await send({"type": "http.response.start", "status": status, "headers": reply})
        await send({"type": "http.response.body", "body": body})


def error_reply(error: GatewayError) -> Reply:
    """The `{"error": ...}` body every REST client of the gateway expects."""
    body = orjson.dumps(error.body())
    headers = [_JSON, (b"content-length", b"%d" % len(body))]
    if error.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    return error.status, headers, body


def request_handler(handler: Handler) -> RawHandler:
    """A Request -> Response handler (TF Serving's predict) as a fast-lane handler."""

    async def raw(
        scope: Scope, receive: Receive, _: Mapping[bytes, bytes], params: Params
    ) -> Reply:
        scope["path_params"] = {k: v for k, v in params.items() if v}
        response = await handler(Request(scope, receive))
        return response.status_code, response.raw_headers, bytes(response.body)

    return raw


async def _send(send: Send, status: int, headers: Headers, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
