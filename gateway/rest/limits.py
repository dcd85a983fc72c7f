"""Request body limits, enforced before a handler buffers anything, and reading bodies.

`BodyLimit.guard` is the one check: a body whose Content-Length is over the limit is refused
with 413 before it is read; a body of unknown length (chunked) is counted as it arrives.
Uploads have their own, larger limit. Compressed bodies (`Content-Encoding: gzip|deflate`,
which tritonclient can send) are inflated under the same limit, so a small bomb cannot
become a large body.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping

from starlette.requests import Request
from starlette.types import Message, Receive

from gateway.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}


def too_large(size: int | str, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the request body is {size} bytes; this endpoint takes at most {limit} bytes "
        f"({limit / (1 << 20):g} MiB)"
    )


class BodyLimit:
    """The limit of each request: `upload_limit` where `is_upload` says so, else
    `body_limit`."""

    def __init__(
        self, body_limit: int, upload_limit: int, is_upload: Callable[[str, str], bool]
    ) -> None:
        self.body_limit = body_limit
        self.upload_limit = upload_limit
        self.is_upload = is_upload

    def limit_for(self, method: str, path: str) -> int:
        return self.upload_limit if self.is_upload(method, path) else self.body_limit

    def guard(self, limit: int, headers: Mapping[bytes, bytes], receive: Receive) -> Receive:
        """`receive` for a body of at most `limit` bytes; raises 413 at once for a declared
        Content-Length over it, and while receiving for a body of unknown length."""
        declared = headers.get(b"content-length")
        if declared is None or not declared.isdigit():
            return counting(receive, limit)
        size = int(declared)
        if size > limit:
            raise too_large(size, limit)
        return receive  # the HTTP framing caps the body at its declared length


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


async def read_body(request: Request, limit: int) -> bytes:
    """`read_request_body` of a Starlette request."""
    return await read_request_body(request.receive, dict(request.scope["headers"]), limit)


async def read_request_body(receive: Receive, headers: Mapping[bytes, bytes], limit: int) -> bytes:
    """The whole body (under the guard's limit), inflated if its Content-Encoding says it
    is compressed, never more than `limit` bytes once inflated."""
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body = message.get("body", b"")  # the whole body at once, as small ones come
    else:
        body = await _receive_all(_replay(message, receive))
    encoding = headers.get(b"content-encoding")
    return body if encoding is None else inflate(body, limit, encoding)


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


def _replay(first: Message, receive: Receive) -> Receive:
    """`receive` with `first` (already received) delivered again first."""
    pending: list[Message] = [first]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
