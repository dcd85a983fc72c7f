"""The one place a gateway error becomes a gRPC status code.

The gateway's errors carry HTTP statuses (gateway.errors); each maps to the code gRPC
clients expect for the same failure. Two exceptions to the table: a full batching queue
(`Overloaded`, 503 over HTTP) is RESOURCE_EXHAUSTED, and in TF Serving's API an unknown
version label is INVALID_ARGUMENT, as TF Serving answers it (V2 says NOT_FOUND).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from gateway.errors import GatewayError, Overloaded, UnknownAlias, translate

CODES: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    415: grpc.StatusCode.INVALID_ARGUMENT,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}

R = TypeVar("R")
Handler = Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[R]]


def status_code(error: GatewayError, tf_serving: bool = False) -> grpc.StatusCode:
    """The gRPC code of `error`; `tf_serving`: as TF Serving's API answers it."""
    if isinstance(error, Overloaded):
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    if tf_serving and isinstance(error, UnknownAlias):
        return grpc.StatusCode.INVALID_ARGUMENT
    return CODES.get(error.status, grpc.StatusCode.UNKNOWN)


def answers_errors(tf_serving: bool = False) -> Callable[[Handler[R]], Handler[R]]:
    """A unary handler whose errors end the call with their status code and message."""

    def decorate(handler: Handler[R]) -> Handler[R]:
        @functools.wraps(handler)
        async def guarded(self: Any, request: Any, context: grpc.aio.ServicerContext) -> R:
            try:
                return await handler(self, request, context)
            except Exception as exc:
                error = translate(exc)  # an unexpected one is logged there, once
                await context.abort(status_code(error, tf_serving), error.message)
                raise  # abort raised already; this line only reassures the type checker

        return guarded

    return decorate
