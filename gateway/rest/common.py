"""What the REST routers share: JSON bodies in and out (orjson), OpenAPI hints."""

from __future__ import annotations

import json
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
    """A request body that must be a JSON object, parsed; a 400 naming what is wrong.

    `NaN`, `Infinity` and `-Infinity` are read as the floats they name: not JSON, but what
    Python's json module (and so tritonclient) writes for them, and what TF Serving reads.
    """
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        doc = _with_non_finite_numbers(raw, exc)
    if not isinstance(doc, dict):
        raise InvalidInput(f"the request body must be a JSON object, got {type(doc).__name__}")
    return doc


def _with_non_finite_numbers(raw: bytes | memoryview, error: orjson.JSONDecodeError) -> Any:
    """`raw` read by Python's json, which knows NaN and Infinity, when it names them; else
    orjson's error (the slow reader is tried only for a body it may help)."""
    text = bytes(raw)
    if b"NaN" not in text and b"Infinity" not in text:
        raise InvalidInput(f"malformed JSON: {error}") from None
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
        raise InvalidInput(f"malformed JSON: {exc}") from None


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
