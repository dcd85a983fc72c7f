"""The DataPlane: every gateway operation, knowing nothing of HTTP.

REST routers (V2, TF Serving, repository) decode a request, call one method here and encode
what it returns; a gRPC front end would do the same. Errors are `GatewayError`s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any, TypeVar

from gateway.errors import GatewayError, InvalidInput, NotFound, Unavailable, translate
from gateway.inference import InferenceRequest, InferenceResult
from gateway.manager import ModelManager
from gateway.metrics import GatewayMetrics
from gateway.served import Lease, ServedVersion, VersionState, VersionStatus
from gateway.shadow import ShadowRunner
from gateway.uploads import UploadPlan, UploadPolicy, import_upload, plan_upload
from model_repo.aliases import AliasTarget, check_alias_name
from model_repo.errors import ModelportError
from model_repo.manifest import Manifest
from model_repo.repository import check_model_name
from model_repo.signature import Signature

log = logging.getLogger("modelport.gateway")
T = TypeVar("T")
SERVER_NAME = "modelport"
EXTENSIONS = ("model_repository", "binary_tensor_data", "model_upload", "model_aliases")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: int
    versions: tuple[int, ...]  # loaded and ready
    platform: str
    signature: Signature
    labels: tuple[Any, ...] | None


class DataPlane:
    def __init__(
        self,
        manager: ModelManager,
        metrics: GatewayMetrics,
        admin_executor: Executor,
        upload_policy: UploadPolicy,
        server_version: str,
    ) -> None:
        self.manager = manager
        self.repo = manager.repo
        self.metrics = metrics
        self._admin = admin_executor
        self._uploads = upload_policy
        self.server_version = server_version
        self.shadows = ShadowRunner(metrics.registry)
        self._ready = False

    # ---- life cycle and health ------------------------------------------------------------

    async def start(self) -> None:
        """Load every model's live versions; a model that fails is reported, not fatal."""
        for name in await self._run(self.repo.models):
            try:
                await self.manager.sync(name)
            except Exception as exc:  # one broken model must not stop the others
                log.error("model %s could not be served: %s", name, translate(exc).message)
        self._ready = True

    async def stop(self) -> None:
        self._ready = False
        await self.shadows.close()
        await self.manager.close()

    def live(self) -> bool:
        return True

    def ready(self) -> bool:
        return self._ready

    def server_metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": self.server_version, "extensions": EXTENSIONS}

    # ---- inference ----------------------------------------------------------------------------

    def lease(
        self,
        name: str,
        ref: str | None,
        key: str | None = None,
        release: str | None = None,
        revision: str | None = None,
    ) -> Lease:
        """Lend the version `ref` (or `release`) names to one request; resolved only here."""
        try:
            return self.manager.lease(name, ref, key, release, revision)
        except GatewayError as exc:
            self.metrics.rejected(name if self.manager.routing(name) else "", exc.status)
            raise

    async def infer(self, served: ServedVersion, request: InferenceRequest) -> InferenceResult:
        """Run one request on a leased version, counting it in that version's metrics."""
        started = perf_counter()
        try:
            names = served.plan.check_outputs(request.outputs)
            produced = await served.runtime.predict(served.plan.fit(request.inputs))
        except Exception as exc:
            error = _inference_error(exc, served)
            served.stats.failed(error.status)
            raise error from exc
        served.stats.observe(perf_counter() - started)
        outputs = {n: produced[n] for n in names}
        return InferenceResult(served.name, served.version, outputs, served.datatypes, request.id)

    # ---- metadata and readiness ------------------------------------------------------------

    def model_info(self, name: str, ref: str | None = None) -> ModelInfo:
        with self.manager.lease(name, ref) as served:
            routing = self.manager.routing(name)
            versions = tuple(sorted(routing.versions)) if routing else (served.version,)
            return ModelInfo(
                name,
                served.version,
                versions,
                served.platform,
                served.manifest.signature,
                served.manifest.labels,
            )

    def model_ready(self, name: str, ref: str | None = None) -> None:
        """Returns when the version `ref` names can serve; raises why not otherwise."""
        with self.manager.lease(name, ref):
            pass

    def version_statuses(self, name: str, ref: str | None = None) -> list[VersionStatus]:
        """Every known version's status, or only the one `ref` names (TF Serving status)."""
        routing = self.manager.routing(name)
        if routing is None:
            raise self.manager.not_served(name)
        statuses = self.manager.statuses(name)
        if ref is None:
            return statuses
        target = routing.aliases.get(ref)
        # A split label has several versions; its status lists every arm, in version order.
        versions = target.versions if target is not None else (_version_number(ref),)
        chosen = [s for s in statuses if s.version in versions]
        if not chosen:
            raise routing.missing(versions[0])
        return chosen

    # ---- the repository ---------------------------------------------------------------------

    async def index(self, ready_only: bool = False) -> list[VersionStatus]:
        names = sorted(set(await self.read(self.repo.models)) | set(self.manager.models()))
        found = [s for name in names for s in self.manager.statuses(name)]
        if ready_only:
            return [s for s in found if s.state is VersionState.READY]
        return found

    async def load(self, name: str) -> None:
        routing = await self.manager.load(_checked(name))
        if routing is None:
            raise NotFound(f"unknown model {name!r}")
        if not routing.versions:
            reasons = "; ".join(f"version {v}: {r}" for v, r in routing.failed.items())
            raise Unavailable(f"model {name!r} could not be loaded: {reasons or 'no versions'}")

    async def unload(self, name: str) -> None:
        await self.manager.unload(_checked(name))

    def plan_upload(
        self, name: str, filename: str, to: str | None, alias: str | None = None
    ) -> UploadPlan:
        """Decide from its name what an upload is; refuses early (before the file is even
        saved) what cannot be stored, or would be refused only after publishing."""
        _checked(name)
        if alias is not None:
            _checked_alias(alias)
        return plan_upload(filename, to, self._uploads)

    async def upload(
        self,
        name: str,
        path: Path,
        plan: UploadPlan,
        alias: str | None = None,
        sample: Path | None = None,
    ) -> Manifest:
        manifest = await self._run(
            import_upload, self.repo, _checked(name), plan, path, self._uploads, alias, sample
        )
        await self.manager.sync_quietly(name)  # published: a sync problem goes to the index
        return manifest

    async def set_alias(self, name: str, alias: str, body: Any) -> AliasTarget:
        _checked_alias(alias)  # before loading anything for it
        target = AliasTarget.from_dict(body)
        # The new target must serve before the switch; if it cannot, nothing is written.
        async with self.manager.holding({_checked(name): target.referenced}):
            await self._run(self.repo.set_alias, name, alias, target)
            await self.manager.sync(name)
        return target

    async def delete_alias(self, name: str, alias: str) -> None:
        await self._run(self.repo.delete_alias, _checked(name), alias)
        await self.manager.sync_quietly(name)  # deleted: a sync problem goes to the index

    async def delete_version(self, name: str, ref: str) -> None:
        if not (ref.isascii() and ref.isdigit()):
            raise InvalidInput(f"delete a version by its number, not {ref!r}")
        await self._run(self.repo.delete_version, _checked(name), int(ref))
        await self.manager.sync_quietly(name)  # deleted: a sync problem goes to the index

    async def read(self, func: Callable[..., T], *args: Any) -> T:
        """Run a repository read in a thread of its own: not in the admin thread, where it
        would wait behind an upload's conversion (minutes, for some models)."""
        try:
            return await asyncio.to_thread(func, *args)
        except ModelportError as exc:
            raise translate(exc) from exc

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._admin, func, *args)
        except ModelportError as exc:
            raise translate(exc) from exc


def _checked(name: str) -> str:
    try:
        return check_model_name(name)
    except ModelportError as exc:
        raise translate(exc) from None


def _checked_alias(alias: str) -> str:
    try:
        return check_alias_name(alias)
    except ModelportError as exc:
        raise translate(exc) from None


def _version_number(ref: str) -> int:
    if ref.isascii() and ref.isdigit():
        return int(ref)
    raise NotFound(f"no version or label {ref!r}")


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
