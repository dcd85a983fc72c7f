"""Request body limits, enforced before a handler buffers anything.

A body whose Content-Length is over the limit is answered 413 without being read; a chunked
body is counted as it arrives. Uploads have their own, larger limit. Compressed bodies
(`Content-Encoding: gzip|deflate`, which tritonclient can send) are inflated under the same
limit, so a small bomb cannot become a large body.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def too_large(size: int | str, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is {size} bytes; this endpoint takes at most {limit} bytes "
        f"({limit / (1 << 20):g} MiB)"
    )


class BodyLimit:
    """Runs an ASGI app under the limit for its request: `upload_limit` where `is_upload`
    says so, else `body_limit`."""

    def __init__(
        self, body_limit: int, upload_limit: int, is_upload: Callable[[str, str], bool]
    ) -> None:
        self.body_limit = body_limit
        self.upload_limit = upload_limit
        self.is_upload = is_upload

    async def run(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        upload = self.is_upload(scope["method"], scope["path"])
        limit = self.upload_limit if upload else self.body_limit
        declared = _content_length(scope)
        if declared is None:
            await app(scope, counting(receive, limit), send)
        elif declared > limit:
            await _refuse(send, too_large(declared, limit))
        else:
            await app(scope, receive, send)  # the HTTP framing caps the body at `declared`


def _content_length(scope: Scope) -> int | None:
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def counting(receive: Receive, limit: int) -> Receive:
    """`receive`, raising 413 once the body passes `limit` (for bodies of unknown length)."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise too_large(f"more than {limit}", limit)
        return message

    return counted


async def _refuse(send: Send, error: PayloadTooLarge) -> None:
    body = orjson.dumps(error.body())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(request: Request, limit: int, encoding: bytes | None = None) -> bytes:
    """The request body, inflated if `encoding` (its Content-Encoding) says it is compressed,
    never more than `limit` bytes."""
    return await read_received(request.receive, limit, encoding)


async def read_received(receive: Receive, limit: int, encoding: bytes | None = None) -> bytes:
    """`read_body` from the ASGI receive channel, for the fast lane (no Request)."""
    body = await _receive_all(receive)
    if encoding is None:
        return body
    return inflate(body, limit, encoding)


def inflate(body: bytes, limit: int, encoding: bytes) -> bytes:
    """`body` inflated as its Content-Encoding says, never more than `limit` bytes."""
    if encoding == b"identity":
        return body
    wbits = _WBITS.get(encoding.decode("latin-1").lower())
    if wbits is None:
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding.decode('latin-1')!r} is not supported (gzip, deflate)"
        )
    if not body:
        return body
    inflater = zlib.decompressobj(wbits)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise InvalidInput(f"the compressed body cannot be inflated: {exc}") from None
    if len(inflated) > limit or inflater.unconsumed_tail:
        raise too_large(f"more than {limit} once inflated", limit)
    if not inflater.eof:  # else its first part would be read as if it were the whole body
        raise InvalidInput(
            f"the {encoding.decode('latin-1')} body is truncated: its compressed stream "
            f"ends early ({len(body)} bytes sent)"
        )
    return inflated


async def _receive_all(receive: Receive) -> bytes:
    """The whole body; leaner than Request.body(), which goes through an async generator."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise InvalidInput("the client disconnected before sending the whole body")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)
