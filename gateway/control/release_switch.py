"""Switching release groups: load every new version, then swap the board in one assignment.

`sync()` reads the stored releases; for each one that changed it marks the new revision as
incoming (its versions become wanted), syncs the models involved (which loads them, the
old ones staying live), and then replaces the board's table at once. A release whose new
versions cannot all serve keeps its old revision and reports why. A replaced revision stays
servable to requests that pinned it for `grace` seconds; then its versions are let go.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.control.manager import ModelManager
from gateway.serving.release_board import RevisionKey, models_of
from model_repo.releases import Release

log = logging.getLogger("modelport.gateway")


class ReleaseSwitch:
    def __init__(self, manager: ModelManager, grace: float) -> None:
        self._manager = manager
        self._board = manager.table.releases
        self._grace = grace
        self._lock = asyncio.Lock()
        self._rejected: dict[str, int] = {}  # release -> stored revision that could not serve
        self._expiries: set[asyncio.Task[None]] = set()

    async def sync(self, retry: bool = False) -> set[str]:
        """Serve what the repository's releases say; `retry` tries rejected revisions again.

        The models synced on the way (those of the releases that changed), so that a pass
        over every model need not sync them again.
        """
        manager = self._manager
        board = self._board
        async with self._lock:
            if retry:
                self._rejected.clear()
            stored = await manager.run(manager.repo.releases.all)
            changed = {
                name: release
                for name, release in stored.items()
                if board.current.get(name) != release
                and self._rejected.get(name) != release.revision
            }
            removed = [name for name in board.current if name not in stored]
            for name in [n for n in board.problems if n not in stored]:
                del board.problems[name]
            if not changed and not removed:
                return set()
            board.incoming = changed
            synced = models_of(changed.values())
            try:
                for model in sorted(synced):
                    # Quietly: a model that cannot sync rejects its releases (`_problem`
                    # says why), not every release switched with it.
                    await manager.sync_quietly(model)
                accepted = self._accepted(stored, changed)
            finally:
                board.incoming = {}
            self._expire_later(board.replace(accepted))
            rejected = [r for n, r in changed.items() if accepted.get(n) != r]
            for model in sorted(models_of(rejected)):
                await manager.sync_quietly(model)  # let go of what a rejected revision loaded
            return synced

    async def close(self) -> None:
        for task in list(self._expiries):
            task.cancel()
        await asyncio.gather(*self._expiries, return_exceptions=True)

    def _accepted(
        self, stored: dict[str, Release], changed: dict[str, Release]
    ) -> dict[str, Release]:
        """The releases to serve: changed ones whose versions all serve, else their old ones."""
        board = self._board
        accepted = {n: board.current[n] for n in stored if n not in changed and n in board.current}
        for name, release in changed.items():
            problem = self._problem(release)
            if problem is None:
                accepted[name] = release
                board.problems.pop(name, None)
                self._rejected.pop(name, None)
                log.info(
                    "release %s: serving revision %d %s", name, release.revision, release.models
                )
                continue
            board.problems[name] = problem
            self._rejected[name] = release.revision
            log.error("release %s revision %d cannot serve: %s", name, release.revision, problem)
            if name in board.current:
                accepted[name] = board.current[name]
        return accepted

    def _problem(self, release: Release) -> str | None:
        for model, version in release.pinned:
            problem = self._manager.table.cannot_serve(model, version)
            if problem is not None:
                return problem
        return None

    def _expire_later(self, keys: list[RevisionKey]) -> None:
        if keys:
            task = asyncio.create_task(self._expire(keys))
            self._expiries.add(task)
            task.add_done_callback(self._expiries.discard)

    async def _expire(self, keys: list[RevisionKey]) -> None:
        await asyncio.sleep(self._grace)
        async with self._lock:
            models = self._board.expire(keys)
        for model in sorted(models):
            await self._manager.sync_quietly(model)
