"""The DataPlane: the request path's operations, knowing nothing of HTTP.

A front end (the REST V2 and TF Serving handlers; a gRPC one would do the same) decodes a
request, makes one call here and encodes what it returns: `infer_request` for inference,
`model_info` / `model_ready` / `server_metadata` for the rest. Errors are `GatewayError`s.
What is served changes through the control plane (gateway.control), which publishes into
the `ServingTable` read here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Protocol, TypeVar

from gateway.errors import GatewayError, InvalidInput, Unavailable, translate
from gateway.metrics import GatewayMetrics, VersionStats
from gateway.serving.inference import InferenceRequest, InferenceResult
from gateway.serving.release_board import RevisionAhead
from gateway.serving.routing_table import ServingTable
from gateway.serving.shadow import ShadowRunner
from gateway.serving.versions import Lease, ServedVersion
from model_repo.errors import ModelportError
from model_repo.signature import Signature
from model_repo.signature_defs import SignatureDef

log = logging.getLogger("modelport.gateway")
SERVER_NAME = "modelport"
EXTENSIONS = ("model_repository", "binary_tensor_data", "model_upload", "model_aliases")


class Decoded(Protocol):
    """What a front end's decoder makes of a request body: at least the inference request."""

    @property
    def inference(self) -> InferenceRequest: ...


D = TypeVar("D", bound=Decoded)
B = TypeVar("B")  # the request body as the front end received it
M = TypeVar("M")  # what else its decoder reads (HTTP headers, gRPC metadata)


@dataclass(frozen=True, slots=True)
class RouteHints:
    """What a request says about routing besides its model and version.

    `key` makes a weighted split sticky; `release` serves the model at that release's
    version, `revision` at exactly that revision of the release (409 once it is gone).
    """

    key: str | None = None
    release: str | None = None
    revision: str | None = None


NO_HINTS = RouteHints()
VersionCounts = tuple[str, int, VersionStats]  # model, version, what it served


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: int
    versions: tuple[int, ...]  # loaded and ready
    platform: str
    signature: Signature
    labels: tuple[Any, ...] | None
    signature_defs: Mapping[str, SignatureDef]  # TF Serving's signatures, by key


class DataPlane:
    def __init__(self, table: ServingTable, metrics: GatewayMetrics, server_version: str) -> None:
        self.table = table
        self.metrics = metrics
        self.server_version = server_version
        self.shadows = ShadowRunner(metrics.registry)
        self.is_ready = False  # set by the control plane once every model had its first sync
        # Set by the control plane: re-read the releases after the given monotonic time.
        self.catch_up: Callable[[float], Awaitable[None]] | None = None

    # ---- health -------------------------------------------------------------------------------

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        return self.readiness() is None

    def readiness(self) -> str | None:
        """Why the server cannot serve yet; None once it can.

        Not ready while the first load of the repository runs, nor when it holds models and
        none of them has a version to serve (all failed to load, or were unloaded): a load
        balancer must not send traffic to such a server.
        """
        if not self.is_ready:
            return "the server is still loading its models"
        table = self.table
        models = table.routes.keys() | table.problems.keys()
        if models and not any(routing.versions for routing in table.routes.values()):
            return (
                f"no model can serve: each of the {len(models)} model(s) failed to load or "
                "is unloaded; POST /v2/repository/index says why"
            )
        return None

    def server_metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": self.server_version, "extensions": EXTENSIONS}

    async def close(self) -> None:
        self.is_ready = False
        await self.shadows.close()

    # ---- inference ----------------------------------------------------------------------------

    def lease(self, name: str, ref: str | None, hints: RouteHints = NO_HINTS) -> Lease:
        """Lend the version `ref` (or the hints' release) names to one request."""
        try:
            return self.table.lease(name, ref, hints.key, hints.release, hints.revision)
        except GatewayError as exc:
            self.metrics.rejected(name if self.table.routing(name) else "", exc.status)
            raise

    async def _pinned_lease(self, name: str, ref: str | None, hints: RouteHints) -> Lease:
        """`lease` for a request naming a release revision, after re-reading the releases
        once when the revision is newer than any this server has seen (another replica
        switched first)."""
        if self.catch_up is not None:
            asked = time.monotonic()
            try:
                return self.table.lease(name, ref, hints.key, hints.release, hints.revision)
            except RevisionAhead:
                await self.catch_up(asked)
        return self.lease(name, ref, hints)

    async def infer_request(
        self,
        name: str,
        ref: str | None,
        hints: RouteHints,
        decode: Callable[[B, M], D],
        body: B,
        meta: M,
    ) -> tuple[D, InferenceResult, int | None]:
        """Serve one inference request: lease its version, decode it, run it, copy it to the
        shadow if the alias has one. The decoded request, the result, and the release
        revision that chose the version (None unless the request named a release).

        The body is decoded under the lease, so a malformed one counts as a failure of the
        version it was sent to.
        """
        if hints.revision is None:  # the everyday request: no coroutine to await for it
            lease = self.lease(name, ref, hints)
        else:
            lease = await self._pinned_lease(name, ref, hints)
        with lease as served:
            try:
                decoded = decode(body, meta)
            except GatewayError as exc:
                served.stats.failed(exc.status)
                raise
            result = await self.infer(served, decoded.inference)
            if lease.shadow is not None:
                self._mirror(lease, decoded.inference, result)
        return decoded, result, lease.revision

    async def infer(self, served: ServedVersion, request: InferenceRequest) -> InferenceResult:
        """Run one request on a leased version, counting it in that version's metrics."""
        started = perf_counter()
        datatypes: Mapping[str, str] = served.datatypes
        try:
            if request.signature is None:  # V2: the manifest's signature
                names = served.plan.check_outputs(request.outputs)
                produced = await served.runtime.predict(served.plan.fit(request.inputs))
                outputs = {n: produced[n] for n in names}
            else:  # TF Serving: a signature by name; predict, classify or regress
                outputs, datatypes = await served.signature(request.signature).run(request)
        except Exception as exc:
            error = _inference_error(exc, served)
            served.stats.failed(error.status)
            raise error from exc
        served.stats.observe(perf_counter() - started)
        return InferenceResult(served.name, served.version, outputs, datatypes, request.id)

    def _mirror(self, lease: Lease, request: InferenceRequest, result: InferenceResult) -> None:
        """Copy the request to the lease's shadow version; returns at once."""
        shadow = lease.take_shadow()
        if shadow is not None:
            self.shadows.start(shadow, request, result)

    # ---- metadata and readiness ------------------------------------------------------------

    def model_info(self, name: str, ref: str | None = None) -> ModelInfo:
        with self.table.lease(name, ref) as served:
            routing = self.table.routing(name)
            versions = tuple(sorted(routing.versions)) if routing else (served.version,)
            return ModelInfo(
                name,
                served.version,
                versions,
                served.platform,
                served.manifest.signature,
                served.manifest.labels,
                {key: s.definition for key, s in served.signatures.items()},
            )

    def model_ready(self, name: str, ref: str | None = None) -> None:
        """Returns when the version `ref` names can serve; raises why not otherwise."""
        with self.table.lease(name, ref):
            pass

    def statistics(self, name: str = "", ref: str | None = None) -> list[VersionCounts]:
        """What each version served so far (Triton's model statistics): of every model when
        `name` is empty, of every counted version of `name`, or of the one `ref` names."""
        metrics = self.metrics
        if not name:
            return [
                (model, version, stats)
                for model in metrics.models_counted()
                for version, stats in sorted(metrics.counted(model).items())
            ]
        if ref is not None:
            with self.table.lease(name, ref) as served:  # names an unknown model or version
                version = served.version
            return [(name, version, metrics.counted(name).get(version) or VersionStats())]
        if self.table.routing(name) is None:
            raise self.table.not_served(name)
        return [(name, version, stats) for version, stats in sorted(metrics.counted(name).items())]


def _inference_error(exc: Exception, served: ServedVersion) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    if served.closed:  # the runtime was closed under the request: not the input's fault
        return Unavailable(
            f"model {served.name!r} version {served.version} was unloaded while this request "
            "ran (it outlasted the unload's drain timeout); send it again"
        )
    if isinstance(exc, ModelportError):
        return translate(exc)
    log.debug("%s version %d failed on a request", served.name, served.version, exc_info=exc)
    return InvalidInput(
        f"model {served.name!r} version {served.version} cannot run on this input: "
        f"{type(exc).__name__}: {exc}"
    )
