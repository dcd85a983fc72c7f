"""V2 `infer` as a raw ASGI exchange: the request path the benchmarks time.

The fast lane (gateway.rest.fastlane) calls `V2Infer` with the scope, the receive channel,
the request headers by lower-case name and the path parameters, and writes the `Reply` it
returns straight to the ASGI server: no Starlette Request or Response is built, and the
only copies of the payload are the parsed JSON and the arrays numpy builds from it.
FastAPI's `/v2/models/{m}/infer` route (there for /docs) calls the same object.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Receive, Scope

from gateway.rest.auth import Auth
from gateway.rest.codec_v2 import HEADER_LENGTH, decode_http, encode_response
from gateway.rest.limits import read_request_body
from gateway.rest.replies import JSON_TYPE, Reply
from gateway.rest.routing_headers import release_headers, route_hints
from gateway.serving.dataplane import DataPlane

_HEADER_LENGTH = HEADER_LENGTH.encode()
_OCTET_STREAM = (b"content-type", b"application/octet-stream")


class V2Infer:
    __slots__ = ("auth", "body_limit", "plane")

    def __init__(self, plane: DataPlane, auth: Auth, body_limit: int) -> None:
        self.plane = plane
        self.auth = auth
        self.body_limit = body_limit

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        headers: Mapping[bytes, bytes],
        params: Mapping[str, str | None],
    ) -> Reply:
        self.auth.reader_header(headers.get(b"authorization"))
        body = await read_request_body(receive, headers, self.body_limit)
        parsed, result, revision = await self.plane.infer_request(
            str(params["model"]),
            params.get("version"),
            route_hints(headers),
            decode_http,
            body,
            headers,
        )
        content, extra = encode_response(result, parsed)
        length = (b"content-length", b"%d" % len(content))
        if extra:
            split = extra["Inference-Header-Content-Length"].encode()
            reply = [_OCTET_STREAM, length, (_HEADER_LENGTH, split)]
        else:
            reply = [JSON_TYPE, length]
        if revision is not None:
            reply += release_headers(revision, headers)
        return 200, reply, content
