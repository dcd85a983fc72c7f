"""Repository operations of zero-downtime serving: reload, model configs, release groups.

Like the DataPlane, this knows nothing of HTTP; the repository router translates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from gateway.dataplane import DataPlane
from gateway.errors import translate
from gateway.reloader import Reloader
from gateway.served import VersionStatus
from model_repo.errors import ModelportError
from model_repo.model_config import ModelConfig
from model_repo.releases import Release, check_release_name, parse_models
from model_repo.repository import check_model_name

T = TypeVar("T")


class Rollout:
    def __init__(self, plane: DataPlane, reloader: Reloader) -> None:
        self.plane = plane
        self.manager = plane.manager
        self.repo = plane.repo
        self.reloader = reloader

    async def reload(self) -> list[VersionStatus]:
        """Re-read the whole repository now (without waiting for the poll); the index."""
        await self.reloader.reload(everything=True)
        return await self.plane.index()

    # ---- model configs ------------------------------------------------------------------

    async def config(self, name: str) -> ModelConfig:
        await self.plane.read(self.repo.latest, name)  # names an unknown model
        return await self.plane.read(self.repo.config, name)

    async def set_config(self, name: str, body: Any) -> ModelConfig:
        config = await self._run(ModelConfig.from_dict, body)
        await self._run(self.repo.set_config, name, config)
        await self.manager.sync_quietly(name)  # written: a sync problem goes to the index
        return config

    # ---- release groups ---------------------------------------------------------------------

    async def releases(self) -> list[dict[str, Any]]:
        stored = await self.plane.read(self.repo.releases.all)
        return [self._describe(r) for _, r in sorted(stored.items())]

    async def release(self, name: str) -> dict[str, Any]:
        return self._describe(await self.plane.read(self.repo.releases.get, name))

    async def set_release(self, name: str, body: Any) -> dict[str, Any]:
        """Pin versions; every one must serve before anything is written, then switch."""
        await self._run(check_release_name, name)
        models = await self._run(parse_models, body)
        for model in models:
            await self._run(check_model_name, model)
        async with self.manager.holding({m: (v,) for m, v in models.items()}):
            release = await self._run(self.repo.releases.set, name, models)
            await self.manager.release_switch.sync()
        return self._describe(release)

    async def delete_release(self, name: str) -> None:
        await self._run(self.repo.releases.delete, name)
        await self.manager.release_switch.sync()

    def _describe(self, release: Release) -> dict[str, Any]:
        board = self.manager.releases
        serving = board.current.get(release.name)
        found = {**release.to_dict(), "serving_revision": serving.revision if serving else None}
        if release.name in board.problems:
            found["problem"] = board.problems[release.name]
        return found

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        try:
            return await self.manager.run(func, *args)
        except ModelportError as exc:
            raise translate(exc) from exc
