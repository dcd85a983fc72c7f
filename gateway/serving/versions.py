"""Loaded versions and the leases requests take on them.

The request path never locks: a request looks up the model's current routing table (one
dict read, gateway.serving.routing_table), resolves its version once, and takes a `Lease`
on that `ServedVersion` (an integer increment on the event loop thread). Whatever the
manager swaps in meanwhile, the request finishes on the version it started with; a retired
version is closed only after its last lease comes back (`drain`).
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from gateway.errors import InvalidInput
from gateway.metrics import VersionStats
from gateway.serving.conformance import InputPlan
from gateway.serving.runtime import Runtime
from gateway.serving.signatures import ServedSignature, Signatures, manifest_signatures
from model_repo.manifest import Manifest


class ServedVersion:
    """One loaded version: manifest, runtime, input plan, and the leases out on it.

    `plan` and `runtime` serve V2 requests (the manifest's signature); `signatures` serve
    TF Serving's, by name (the manifest's alone, unless the loader gives a SavedModel's).
    """

    __slots__ = (
        "_drained",
        "closed",
        "datatypes",
        "leases",
        "manifest",
        "name",
        "plan",
        "platform",
        "retired",
        "runtime",
        "signatures",
        "stats",
        "version",
    )

    def __init__(
        self,
        manifest: Manifest,
        runtime: Runtime,
        platform: str,
        stats: VersionStats,
        missing_strings: bool = False,
        signatures: Signatures | None = None,
    ) -> None:
        self.name = manifest.name
        self.version = manifest.version
        self.manifest = manifest
        self.runtime = runtime
        self.platform = platform
        self.stats = stats
        self.plan = InputPlan(manifest.signature, missing_strings)
        if signatures is None:
            signatures = manifest_signatures(manifest, self.plan, runtime)
        self.signatures = signatures
        self.datatypes = {spec.name: spec.datatype for spec in manifest.signature.outputs}
        self.leases = 0
        self.retired = False  # no new request gets it
        self.closed = False  # its runtime is closed (leases still out after the drain timeout)
        self._drained: asyncio.Event | None = None

    def signature(self, key: str) -> ServedSignature:
        found = self.signatures.get(key)
        if found is None:
            known = ", ".join(sorted(self.signatures))
            raise InvalidInput(
                f"model {self.name!r} version {self.version} has no signature {key!r} "
                f"(signatures: {known})"
            )
        return found

    def release(self) -> None:
        self.leases -= 1
        if self.leases == 0 and self._drained is not None:
            self._drained.set()

    async def drain(self, timeout: float) -> bool:
        """Stop lending this version and wait for its leases; False if the wait timed out."""
        self.retired = True
        if self.leases == 0:
            return True
        self._drained = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained.wait(), timeout)
        return self.leases == 0


class Lease:
    """A version lent to one request; returned when the `with` block ends.

    `shadow`, when set, is a second version this request is copied to (also leased, until
    `take_shadow` hands it on or the block ends); `revision` is the release revision that
    chose the version, for requests that named a release.
    """

    __slots__ = ("revision", "served", "shadow")

    def __init__(
        self,
        served: ServedVersion,
        shadow: ServedVersion | None = None,
        revision: int | None = None,
    ) -> None:
        served.leases += 1
        if shadow is not None:
            shadow.leases += 1
        self.served = served
        self.shadow = shadow
        self.revision = revision

    def take_shadow(self) -> ServedVersion | None:
        """The shadow version, whose lease the caller now owns and must `release`."""
        shadow, self.shadow = self.shadow, None
        return shadow

    def __enter__(self) -> ServedVersion:
        return self.served

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.served.release()
        if self.shadow is not None:
            self.shadow.release()
            self.shadow = None
