"""What a call's metadata says (tokens, routing hints), and what its answer says back.

gRPC metadata is REST's headers by another name: `authorization: Bearer <token>`,
`x-modelport-key`, `x-modelport-release` and `x-modelport-release-revision` mean what they
mean over HTTP (gateway.rest.auth, gateway.rest.routing_headers), and a call served by a
release gets `x-modelport-release` and `x-modelport-release-revision` back in its initial
metadata.
"""

from __future__ import annotations

from collections.abc import Mapping

import grpc

from gateway.rest.auth import Auth
from gateway.rest.routing_headers import release_headers, route_hints
from gateway.serving.dataplane import RouteHints

AUTHORIZATION = b"authorization"
CARRIER = "metadata"  # what the token errors call the place a token goes


class CallMetadata:
    """One call's metadata, as the lower-case byte headers the REST helpers read."""

    __slots__ = ("headers",)

    def __init__(self, context: grpc.aio.ServicerContext) -> None:
        found: dict[bytes, bytes] = {}
        for key, value in context.invocation_metadata() or ():
            if isinstance(value, str):  # binary (-bin) values carry nothing of ours
                found[key.encode("latin-1")] = value.encode("latin-1")
        self.headers: Mapping[bytes, bytes] = found

    def hints(self) -> RouteHints:
        return route_hints(self.headers)

    def authorization(self) -> str | None:
        value = self.headers.get(AUTHORIZATION)
        return None if value is None else value.decode("latin-1")

    def check_reader(self, auth: Auth) -> None:
        """Reads and inference: open unless the server has an inference token."""
        auth.reader_header(self.authorization(), CARRIER)

    def check_admin(self, auth: Auth) -> None:
        auth.admin_header(self.authorization(), CARRIER)

    async def send_release(self, context: grpc.aio.ServicerContext, revision: int | None) -> None:
        """Name the release revision that served the call, in its initial metadata."""
        if revision is not None:
            pairs = release_headers(revision, self.headers)
            await context.send_initial_metadata([(k.decode(), v.decode()) for k, v in pairs])
