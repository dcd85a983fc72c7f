"""Every gateway error has the gRPC code a gRPC client expects for it (gateway.grpc.status)."""

from __future__ import annotations

import grpc
import pytest

from gateway import errors
from gateway.grpc.status import status_code

Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("error", "v2", "tf_serving"),
    [
        (errors.InvalidInput, Code.INVALID_ARGUMENT, Code.INVALID_ARGUMENT),
        (errors.Unauthorized, Code.UNAUTHENTICATED, Code.UNAUTHENTICATED),
        (errors.Forbidden, Code.PERMISSION_DENIED, Code.PERMISSION_DENIED),
        (errors.NotFound, Code.NOT_FOUND, Code.NOT_FOUND),
        (errors.UnknownAlias, Code.NOT_FOUND, Code.INVALID_ARGUMENT),  # TF Serving's label
        (errors.Conflict, Code.FAILED_PRECONDITION, Code.FAILED_PRECONDITION),
        (errors.PayloadTooLarge, Code.RESOURCE_EXHAUSTED, Code.RESOURCE_EXHAUSTED),
        (errors.Unprocessable, Code.INVALID_ARGUMENT, Code.INVALID_ARGUMENT),
        (errors.Unavailable, Code.UNAVAILABLE, Code.UNAVAILABLE),
        (errors.Overloaded, Code.RESOURCE_EXHAUSTED, Code.RESOURCE_EXHAUSTED),
        (errors.InternalError, Code.INTERNAL, Code.INTERNAL),
    ],
)
def test_each_error_has_its_code(
    error: type[errors.GatewayError], v2: Code, tf_serving: Code
) -> None:
    assert status_code(error("why")) == v2
    assert status_code(error("why"), tf_serving=True) == tf_serving


def test_every_status_the_gateway_uses_is_mapped() -> None:
    statuses = {cls.status for cls in _subclasses(errors.GatewayError)}
    unmapped = [s for s in statuses if status_code(_with_status(s)) == Code.UNKNOWN]
    assert unmapped == []


def _subclasses(cls: type) -> list[type]:
    return [cls, *(s for sub in cls.__subclasses__() for s in _subclasses(sub))]


def _with_status(status: int) -> errors.GatewayError:
    error = errors.GatewayError("why")
    error.status = status
    return error
