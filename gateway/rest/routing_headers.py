"""What an inference request's headers say about routing, and what its response says back.

- `X-Modelport-Key`: makes a weighted split sticky (the same key, the same version);
- `X-Modelport-Release: r`: serve the model at release `r`'s version;
- `X-Modelport-Release-Revision: N`: ... at exactly revision N of it (409 once N is gone).

A response to a release request carries `X-Modelport-Release` and
`X-Modelport-Release-Revision`, to send back on the next call of the same pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.rest.replies import Headers
from gateway.serving.dataplane import NO_HINTS, RouteHints

STICKY_KEY = b"x-modelport-key"
RELEASE = b"x-modelport-release"
REVISION = b"x-modelport-release-revision"


def route_hints(headers: Mapping[bytes, bytes]) -> RouteHints:
    key, release, revision = headers.get(STICKY_KEY), headers.get(RELEASE), headers.get(REVISION)
    if key is None and release is None and revision is None:
        return NO_HINTS  # the everyday request: nothing to build
    return RouteHints(_text(key), _text(release), _text(revision))


def release_headers(revision: int | None, headers: Mapping[bytes, bytes]) -> Headers:
    """The response headers naming the release revision that served the request, if any."""
    if revision is None:
        return []
    return [
        (b"x-modelport-release", headers.get(RELEASE, b"")),
        (b"x-modelport-release-revision", str(revision).encode()),
    ]


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
