"""The gateway's errors, and the one place other errors become them.

Every error a client can cause is a `GatewayError` carrying its HTTP status; REST (V2 and TF
Serving) renders it as `{"error": "<message>"}`; gRPC maps the status to a status code
(gateway.grpc.status). Errors from `model_repo` and `converters`
are translated by `translate`, so no handler maps exceptions on its own. `PortUnavailable`
is not a client's error but the server's own at start (the CLI's exit code 17).

    GatewayError                    status
    ├── InvalidInput                 400   malformed body, wrong datatype or shape, unknown output
    ├── Unauthorized                 401   missing or wrong bearer token
    ├── Forbidden                    403   refused by the operator's settings (pickle uploads)
    ├── NotFound                     404   unknown model, version, alias or route
    │   └── UnknownAlias             404   an alias the model does not have (TF Serving: 400)
    ├── Conflict                     409   contradicts stored state (delete an aliased version)
    ├── PayloadTooLarge              413   body, upload or unpacked archive over its limit
    ├── UnsupportedMediaType         415   an upload modelport cannot store or convert
    ├── Unprocessable                422   an upload that does not open, fails conversion/parity
    ├── Unavailable                  503   a version that failed to load, a missing runtime, a
    │   │                                  corrupt aliases.json / config.json / .releases.json
    │   └── Overloaded               503   a full batching queue (gRPC: RESOURCE_EXHAUSTED)
    └── InternalError                500   a bug: logged with its traceback
"""

from __future__ import annotations

import logging
from typing import Any

from converters.errors import ConversionError, ParityFailure
from model_repo import errors as repo_errors

log = logging.getLogger("modelport.gateway")


class GatewayError(Exception):
    """An error with an HTTP status and a message meant for the client."""

    status = 500

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra  # more fields for the JSON body (a parity report ...)

    def body(self) -> dict[str, Any]:
        return {"error": self.message, **self.extra}


class InvalidInput(GatewayError):
    status = 400


class Unauthorized(GatewayError):
    status = 401


class Forbidden(GatewayError):
    status = 403


class NotFound(GatewayError):
    status = 404


class UnknownAlias(NotFound):
    """A model's alias (TF Serving's label) that does not exist: 404 in V2, while TF
    Serving answers an unknown label with 400."""


class Conflict(GatewayError):
    status = 409


class PayloadTooLarge(GatewayError):
    status = 413


class UnsupportedMediaType(GatewayError):
    status = 415


class Unprocessable(GatewayError):
    status = 422


class Unavailable(GatewayError):
    status = 503


class Overloaded(Unavailable):
    """The server is at a limit of its own (a full batching queue): 503 over HTTP, gRPC's
    RESOURCE_EXHAUSTED; retrying later may succeed."""


class InternalError(GatewayError):
    status = 500


# Most specific class first: the first match wins.
_TRANSLATIONS: tuple[tuple[type[Exception], type[GatewayError]], ...] = (
    (repo_errors.NotFound, NotFound),
    (repo_errors.Conflict, Conflict),
    (repo_errors.InvalidArgument, InvalidInput),
    (repo_errors.ArtifactError, Unprocessable),
    (ConversionError, Unprocessable),
    (repo_errors.DependencyMissing, Unavailable),
    (repo_errors.IntegrityError, Unavailable),
    (repo_errors.RepositoryError, Unavailable),  # NotWritable, a corrupt stored file
)


def translate(exc: BaseException) -> GatewayError:
    """The GatewayError for any exception; unknown ones become a logged InternalError."""
    if isinstance(exc, GatewayError):
        return exc
    for source, target in _TRANSLATIONS:
        if isinstance(exc, source):
            if isinstance(exc, ParityFailure):
                return target(str(exc), parity=exc.report.to_dict())
            return target(str(exc))
    log.error("internal error", exc_info=exc)
    return InternalError(f"internal error ({type(exc).__name__}); the server log has details")


class PortUnavailable(repo_errors.ModelportError):
    """`modelport serve` cannot listen where it was asked to (a port in use, a privileged
    port): refused before any model is loaded, with its own exit code."""
