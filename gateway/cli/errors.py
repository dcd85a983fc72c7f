"""Errors of the CLI's client commands (`push`, `predict`), which talk to a gateway.

Kept apart from the HTTP client itself so that mapping them to exit codes (done for every
command) does not import httpx.
"""

from __future__ import annotations

from model_repo.errors import ModelportError


class RemoteError(ModelportError):
    """The gateway answered a client command with an error status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unreachable(RemoteError):
    """The gateway could not be reached at all."""
