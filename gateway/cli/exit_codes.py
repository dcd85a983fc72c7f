"""CLI exit codes: one per kind of failure, so scripts can tell them apart."""

from __future__ import annotations

from converters.errors import (
    ConversionError,
    ModelLoadError,
    ParityFailure,
    SampleMismatch,
    UnsupportedConversion,
)
from gateway.cli.errors import RemoteError, Unreachable
from gateway.errors import PortUnavailable
from model_repo.errors import (
    ArtifactError,
    Conflict,
    DependencyMissing,
    IntegrityError,
    InvalidArgument,
    ModelportError,
    NotFound,
    NotWritable,
    RepositoryError,
)

OK = 0
INTERNAL = 1
USAGE = 2  # click/typer's own code for bad arguments
REMOTE_ERROR = 15  # the gateway answered a client command (push, predict) with an error
UNREACHABLE = 16  # the gateway could not be reached
PORT_UNAVAILABLE = 17  # `serve` cannot listen on the host and port it was given
# Most specific class first: the first match wins.
EXIT_CODES: tuple[tuple[type[ModelportError], int], ...] = (
    (PortUnavailable, PORT_UNAVAILABLE),
    (Unreachable, UNREACHABLE),
    (RemoteError, REMOTE_ERROR),
    (ModelLoadError, 3),
    (UnsupportedConversion, 4),
    (DependencyMissing, 5),
    (ParityFailure, 6),
    (SampleMismatch, 7),
    (NotWritable, 8),
    (NotFound, 9),
    (Conflict, 10),
    (IntegrityError, 11),
    (InvalidArgument, USAGE),
    (ArtifactError, 12),
    (RepositoryError, 13),
    (ConversionError, 14),
)


def exit_code_for(error: ModelportError) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return INTERNAL
