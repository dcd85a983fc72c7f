"""Bearer tokens: the admin token guards writes; an optional one guards reads and inference."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from gateway.errors import Unauthorized

_SCHEME = "bearer "


class Auth:
    """Tokens are compared as bytes, in constant time: the configured token in UTF-8 with the
    header's raw bytes (which Starlette and the fast lane hand over decoded as latin-1), so a
    non-ASCII token works as a UTF-8 client (curl in a UTF-8 terminal) sends it."""

    def __init__(self, admin_token: str, inference_token: str | None = None) -> None:
        if not admin_token:
            raise ValueError("the admin token must not be empty")
        self._admin = admin_token.encode()
        self._reader = inference_token.encode() if inference_token else None

    def admin(self, request: Request) -> None:
        """Writes: upload, aliases, delete, load and unload."""
        self.admin_header(request.headers.get("authorization"))

    def admin_header(self, header: str | None, carrier: str = "header") -> None:
        """`admin` from the raw Authorization header, or gRPC's `authorization` metadata
        (`carrier` names which, for the error)."""
        token = _token(header, "this endpoint changes the repository", carrier)
        if not hmac.compare_digest(token, self._admin):
            raise Unauthorized("the bearer token is not the admin token")

    def reader(self, request: Request) -> None:
        """Reads and inference: open unless the server has an inference token."""
        if self._reader is not None:
            self.reader_header(request.headers.get("authorization"))

    def reader_header(self, header: bytes | str | None, carrier: str = "header") -> None:
        """`reader` from the raw Authorization header, for the fast lane (no Request), or
        from gRPC's `authorization` metadata (`carrier` names which, for the error)."""
        if self._reader is None:
            return
        if isinstance(header, bytes):
            header = header.decode("latin-1")
        token = _token(header, "this server requires the inference token", carrier)
        if not (
            hmac.compare_digest(token, self._reader) or hmac.compare_digest(token, self._admin)
        ):
            raise Unauthorized("the bearer token is not valid for this server")


def _token(header: str | None, why: str, carrier: str = "header") -> bytes:
    if header is None:
        raise Unauthorized(f"missing 'Authorization: Bearer <token>' {carrier}; {why}")
    if not header.lower().startswith(_SCHEME):
        raise Unauthorized(f"the Authorization {carrier} must be 'Bearer <token>'")
    return header[len(_SCHEME) :].strip().encode("latin-1")  # the bytes as sent
