"""What the REST routers share: JSON bodies in and out (orjson), OpenAPI hints."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.errors import InvalidInput
from gateway.rest.limits import read_body

JSON = "application/json"
_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def raw_headers(request: Request) -> dict[bytes, bytes]:
    """The request's headers by lower-case name: cheaper than Starlette's Headers for the
    few lookups the inference path makes (ASGI servers send names in lower case)."""
    return dict(request.scope["headers"])


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(content, option=_NUMPY), status, headers, JSON)


def parse_object(raw: bytes | memoryview) -> dict[str, Any]:
    """A request body that must be a JSON object, parsed; a 400 naming what is wrong."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"the request body must be a JSON object, got {type(doc).__name__}")
    return doc


async def object_or_empty(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object, or {} for an empty body (Triton's optional bodies)."""
    raw = await read_body(request, limit)
    return parse_object(raw) if raw.strip() else {}


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
