"""What an inference request's headers say about routing, for the REST handlers.

- `X-Modelport-Key`: makes a weighted split sticky (the same key, the same version);
- `X-Modelport-Release: r`: serve the model at release `r`'s version;
- `X-Modelport-Release-Revision: N`: ... at exactly revision N of it (409 once N is gone).

A response to a release request carries `X-Modelport-Release` and
`X-Modelport-Release-Revision`, to send back on the next call of the same pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.dataplane import DataPlane
from gateway.inference import InferenceRequest, InferenceResult
from gateway.served import Lease

STICKY_KEY = b"x-modelport-key"
RELEASE = b"x-modelport-release"
REVISION = b"x-modelport-release-revision"


def lease_for(
    plane: DataPlane, name: str, ref: str | None, headers: Mapping[bytes, bytes]
) -> Lease:
    """The lease for one request, resolved once from its path and headers."""
    return plane.lease(
        name,
        ref,
        _text(headers.get(STICKY_KEY)),
        _text(headers.get(RELEASE)),
        _text(headers.get(REVISION)),
    )


def mirror(
    plane: DataPlane, lease: Lease, request: InferenceRequest, result: InferenceResult
) -> None:
    """Copy the request to the lease's shadow version, if it has one; returns at once."""
    shadow = lease.take_shadow()
    if shadow is not None:
        plane.shadows.start(shadow, request, result)


def with_release(
    lease: Lease, headers: Mapping[bytes, bytes], extra: dict[str, str]
) -> dict[str, str]:
    """`extra` plus the release headers when the request named a release."""
    if lease.revision is None:
        return extra
    release = _text(headers.get(RELEASE)) or ""
    return {
        **extra,
        "X-Modelport-Release": release,
        "X-Modelport-Release-Revision": str(lease.revision),
    }


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")
