"""V2 `infer` as a raw ASGI exchange: the request path the benchmarks time.

The fast lane (gateway.fastlane) calls `V2Infer` with the scope, the receive channel, the
request headers by lower-case name and the path parameters, and writes the `Reply` it
returns straight to the ASGI server: no Starlette Request or Response is built, and the
only copies of the payload are the parsed JSON and the arrays numpy builds from it.
FastAPI's `/v2/models/{m}/infer` route (there for /docs) calls the same object.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import Message, Receive, Scope

from gateway.auth import Auth
from gateway.codec_v2 import HEADER_LENGTH, decode_request, encode_response
from gateway.dataplane import DataPlane
from gateway.errors import GatewayError
from gateway.fastlane import Headers, Reply
from gateway.limits import inflate, read_received
from gateway.rest_routing import RELEASE, lease_for, mirror
from gateway.served import Lease

_HEADER_LENGTH = HEADER_LENGTH.encode()
_JSON = (b"content-type", b"application/json")
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
        message = await receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            body = message.get("body", b"")  # the whole body at once, as small ones come
        else:
            body = await read_received(_replay(message, receive), self.body_limit)
        if b"content-encoding" in headers:
            body = inflate(body, self.body_limit, headers[b"content-encoding"])
        plane = self.plane
        lease = lease_for(plane, str(params["model"]), params.get("version"), headers)
        with lease as served:
            header_length = headers.get(_HEADER_LENGTH)
            try:
                parsed = decode_request(
                    body, None if header_length is None else header_length.decode("latin-1")
                )
            except GatewayError as exc:
                served.stats.failed(exc.status)
                raise
            result = await plane.infer(served, parsed.inference)
            if lease.shadow is not None:
                mirror(plane, lease, parsed.inference, result)
        content, extra = encode_response(result, parsed)
        length = (b"content-length", b"%d" % len(content))
        if extra:
            split = extra["Inference-Header-Content-Length"].encode()
            reply = [_OCTET_STREAM, length, (_HEADER_LENGTH, split)]
        else:
            reply = [_JSON, length]
        if lease.revision is not None:
            reply += _release_headers(lease, headers)
        return 200, reply, content


def _release_headers(lease: Lease, headers: Mapping[bytes, bytes]) -> Headers:
    """What a response to a release request carries (see gateway.rest_routing)."""
    return [
        (b"x-modelport-release", headers.get(RELEASE, b"")),
        (b"x-modelport-release-revision", str(lease.revision).encode()),
    ]


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _replay(first: Message, receive: Receive) -> Receive:
    """`receive` with `first` (already received) delivered again first."""
    pending: list[Message] = [first]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
