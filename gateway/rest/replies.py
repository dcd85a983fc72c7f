"""What the gateway sends back over HTTP: raw replies, and the one renderer of errors.

Every error answer, whatever sends it (the fast lane, FastAPI's handlers, the body limit),
is `{"error": "<message>"}` with the error's status, as V2 and TF Serving clients expect,
plus `WWW-Authenticate: Bearer` on a 401.
"""

from __future__ import annotations

import orjson
from starlette.responses import Response
from starlette.types import Send

from gateway.errors import GatewayError

Headers = list[tuple[bytes, bytes]]
Reply = tuple[int, Headers, bytes]  # status, response headers, body
JSON_TYPE = (b"content-type", b"application/json")
CLOSE = (b"connection", b"close")


def error_reply(error: GatewayError) -> Reply:
    """The error as a raw reply: its status, JSON headers, `{"error": ...}` body."""
    body = orjson.dumps(error.body(), option=orjson.OPT_SERIALIZE_NUMPY)
    headers = [JSON_TYPE, (b"content-length", b"%d" % len(body))]
    if error.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    return error.status, headers, body


def error_response(error: GatewayError) -> Response:
    """The error as a Starlette response, for FastAPI's exception handlers."""
    return as_response(error_reply(error))


def as_response(reply: Reply) -> Response:
    status, headers, body = reply
    response = Response(body, status)
    response.raw_headers = list(headers)  # content-length included
    return response


async def send_reply(send: Send, reply: Reply) -> None:
    status, headers, body = reply
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
