"""The ControlPlane: every operation that changes or reports what is served, without HTTP.

Index, load and unload (Triton's repository extension), uploads, aliases, deletes, model
configs, release groups and reload; and the start and stop of serving. Each write goes to
the repository first and is then synced into what is served; a write that succeeded never
answers with an error because of that sync (its problem goes to the index). The REST
repository endpoints (gateway.rest) translate; the request path is the DataPlane's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gateway.control.calls import run_blocking, run_pure
from gateway.control.manager import ModelManager
from gateway.control.release_switch import ReleaseSwitch
from gateway.control.reloader import Reloader
from gateway.control.statuses import VersionState, VersionStatus
from gateway.control.uploads import UploadPlan, UploadPolicy, import_upload, plan_upload
from gateway.errors import InvalidInput, NotFound, Unavailable, UnknownAlias
from gateway.serving.dataplane import DataPlane
from model_repo.aliases import AliasTarget, check_alias_name
from model_repo.manifest import Manifest
from model_repo.model_config import ModelConfig
from model_repo.releases import Release, check_release_name, parse_models
from model_repo.repository import check_model_name

log = logging.getLogger("modelport.gateway")
T = TypeVar("T")


class ControlPlane:
    def __init__(
        self,
        data: DataPlane,
        manager: ModelManager,
        switch: ReleaseSwitch,
        reloader: Reloader,
        upload_policy: UploadPolicy,
    ) -> None:
        self.data = data
        self.manager = manager
        self.repo = manager.repo
        self.switch = switch
        self.reloader = reloader
        self._uploads = upload_policy
        data.catch_up = reloader.catch_up  # a release revision another replica switched to

    # ---- life cycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve what the repository holds (releases first, then each model once; a model
        that fails is reported, not fatal), say ready, then start polling."""
        await self.reloader.reload(everything=True)
        self.data.is_ready = True
        self.reloader.start()

    async def stop(self) -> None:
        await self.reloader.stop()
        await self.data.close()
        await self.switch.close()
        await self.manager.close()

    # ---- state --------------------------------------------------------------------------------

    async def index(self, ready_only: bool = False) -> list[VersionStatus]:
        names = sorted(set(await self.read(self.repo.models)) | set(self.manager.models()))
        found = [s for name in names for s in self.manager.statuses(name)]
        if ready_only:
            return [s for s in found if s.state is VersionState.READY]
        return found

    def version_statuses(self, name: str, ref: str | None = None) -> list[VersionStatus]:
        """Every known version's status, or only the one `ref` names (TF Serving status)."""
        routing = self.manager.table.routing(name)
        if routing is None:
            raise self.manager.table.not_served(name)
        statuses = self.manager.statuses(name)
        if ref is None:
            return statuses
        target = routing.aliases.get(ref)
        # A split label has several versions; its status lists every arm, in version order.
        versions = target.versions if target is not None else (_version_number(name, ref),)
        chosen = [s for s in statuses if s.version in versions]
        if not chosen:
            raise routing.missing(versions[0])
        return chosen

    async def reload(self) -> list[VersionStatus]:
        """Re-read the whole repository now (without waiting for the poll); the index."""
        await self.reloader.reload(everything=True)
        return await self.index()

    # ---- loading ------------------------------------------------------------------------------

    async def load(self, name: str) -> None:
        routing = await self.manager.load(run_pure(check_model_name, name))
        if routing is None:
            raise NotFound(f"unknown model {name!r}")
        if not routing.versions:
            reasons = "; ".join(f"version {v}: {r}" for v, r in routing.failed.items())
            raise Unavailable(f"model {name!r} could not be loaded: {reasons or 'no versions'}")

    async def unload(self, name: str) -> None:
        await self.manager.unload(run_pure(check_model_name, name))

    # ---- versions and aliases -----------------------------------------------------------------

    def plan_upload(
        self, name: str, filename: str, to: str | None, alias: str | None = None
    ) -> UploadPlan:
        """Decide from its name what an upload is; refuses early (before the file is even
        saved) what cannot be stored, or would be refused only after publishing."""
        run_pure(check_model_name, name)
        if alias is not None:
            run_pure(check_alias_name, alias)
        return plan_upload(filename, to, self._uploads)

    async def upload(
        self,
        name: str,
        path: Path,
        plan: UploadPlan,
        alias: str | None = None,
        sample: Path | None = None,
        version: int | None = None,
    ) -> Manifest:
        """Publish the upload (as `version` if given: refused unless above every number the
        model ever had)."""
        checked = run_pure(check_model_name, name)
        manifest = await self._run(
            import_upload, self.repo, checked, plan, path, self._uploads, alias, sample, version
        )
        await self.manager.sync_quietly(name)  # published: a sync problem goes to the index
        return manifest

    async def set_alias(self, name: str, alias: str, body: Any) -> AliasTarget:
        run_pure(check_alias_name, alias)  # before loading anything for it
        target = run_pure(AliasTarget.from_dict, body)
        checked = run_pure(check_model_name, name)
        # The new target must serve before the switch; if it cannot, nothing is written.
        async with self.manager.holding({checked: target.referenced}):
            await self._run(self.repo.set_alias, name, alias, target)
            await self.manager.sync(name)
        return target

    async def delete_alias(self, name: str, alias: str) -> None:
        await self._run(self.repo.delete_alias, run_pure(check_model_name, name), alias)
        await self.manager.sync_quietly(name)  # deleted: a sync problem goes to the index

    async def delete_version(self, name: str, ref: str) -> None:
        if not (ref.isascii() and ref.isdigit()):
            raise InvalidInput(f"delete a version by its number, not {ref!r}")
        checked = run_pure(check_model_name, name)
        await self._run(self.repo.delete_version, checked, int(ref))
        await self.manager.sync_quietly(name)  # deleted: a sync problem goes to the index

    # ---- model configs ------------------------------------------------------------------------

    async def config(self, name: str) -> ModelConfig:
        await self.read(self.repo.latest, name)  # names an unknown model
        return await self.read(self.repo.config, name)

    async def set_config(self, name: str, body: Any) -> ModelConfig:
        config = run_pure(ModelConfig.from_dict, body)
        await self._run(self.repo.set_config, name, config)
        await self.manager.sync_quietly(name)  # written: a sync problem goes to the index
        return config

    # ---- release groups -----------------------------------------------------------------------

    async def releases(self) -> list[dict[str, Any]]:
        stored = await self.read(self.repo.releases.all)
        return [self._describe(r) for _, r in sorted(stored.items())]

    async def release(self, name: str) -> dict[str, Any]:
        return self._describe(await self.read(self.repo.releases.get, name))

    async def set_release(self, name: str, body: Any) -> dict[str, Any]:
        """Pin versions; every one must serve before anything is written, then switch."""
        run_pure(check_release_name, name)
        models = run_pure(parse_models, body)
        for model in models:
            run_pure(check_model_name, model)
        async with self.manager.holding({m: (v,) for m, v in models.items()}):
            release = await self._run(self.repo.releases.set, name, models)
            await self.switch.sync()
        return self._describe(release)

    async def delete_release(self, name: str) -> None:
        await self._run(self.repo.releases.delete, name)
        await self.switch.sync()

    def _describe(self, release: Release) -> dict[str, Any]:
        board = self.manager.table.releases
        serving = board.current.get(release.name)
        found = {**release.to_dict(), "serving_revision": serving.revision if serving else None}
        if release.name in board.problems:
            found["problem"] = board.problems[release.name]
        return found

    # ---- blocking work ------------------------------------------------------------------------

    async def read(self, func: Callable[..., T], *args: Any) -> T:
        """A repository read in a thread of its own: not in the admin thread, where it would
        wait behind an upload's conversion (minutes, for some models)."""
        return await run_blocking(None, func, *args)

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        """Blocking work in the admin thread: writes, conversions, loads, one at a time."""
        return await self.manager.run(func, *args)


def _version_number(name: str, ref: str) -> int:
    if ref.isascii() and ref.isdigit():
        return int(ref)
    raise UnknownAlias(f"model {name!r} has no label {ref!r}")
