"""What the REST routers share: orjson responses, error responses, OpenAPI hints."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import GatewayError

JSON = "application/json"
OCTET_STREAM = "application/octet-stream"
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def raw_headers(request: Request) -> dict[bytes, bytes]:
    """The request's headers by lower-case name: cheaper than Starlette's Headers for the
    few lookups the inference path makes (ASGI servers send names in lower case)."""
    return dict(request.scope["headers"])


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(content, option=_NUMPY), status, headers, JSON)


def error_response(error: GatewayError) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return json_response(error.body(), error.status, headers)


def path_params(*names: str) -> dict[str, Any]:
    """OpenAPI for path parameters the handler reads from the raw request.

    Handlers take the raw Request (no per-request validation models), so FastAPI cannot
    see their parameters; this puts them in /docs anyway.
    """
    return {
        "parameters": [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
        ]
    }


def json_body(description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {JSON: {"schema": {"type": "object"}}},
        }
    }
