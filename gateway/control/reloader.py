"""Keeps what is served in line with the repository: a poll every `interval` seconds, and
`reload` on demand (`POST /v2/repository/reload`).

A pass looks for changes (gateway.control.watch: stat calls, no manifests read), switches
releases first when `.releases.json` changed, then syncs each changed model the switch did
not sync already (at startup: every model, once). One pass runs at a time; a model that
cannot be synced is logged and the others go on.

`catch_up` re-reads the releases between polls, for a request naming a revision this
server has not seen yet (another replica on the same repository switched first): callers
waiting at once share one re-read, and a re-read that started after a caller asked serves
it, so a burst of such requests costs one or two reads, not one each.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from gateway.control.calls import run_blocking
from gateway.control.manager import ModelManager
from gateway.control.release_switch import ReleaseSwitch
from gateway.control.watch import RepositoryWatch
from gateway.errors import translate

log = logging.getLogger("modelport.gateway")


class Reloader:
    def __init__(self, manager: ModelManager, switch: ReleaseSwitch, interval: float) -> None:
        self.manager = manager
        self.switch = switch
        self.interval = interval
        self._watch = RepositoryWatch(manager.repo)
        self._pass = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._catching: asyncio.Task[None] | None = None
        self._caught_up_at = float("-inf")  # when the last finished re-read started

    async def reload(self, everything: bool = False) -> None:
        """One pass; `everything` syncs every model and retries rejected releases."""
        async with self._pass:
            changes = await run_blocking(None, self._watch.look)
            synced: set[str] = set()
            if changes.releases or everything:
                synced = await self._switch_releases(retry=everything)
            names = set(changes.models)
            if everything:
                names |= set(await run_blocking(None, self.manager.repo.models))
                names |= set(self.manager.models())
            for name in sorted(names - synced):  # the switch read those after the look
                await self.manager.sync_quietly(name)

    async def catch_up(self, asked: float) -> None:
        """Return once the releases were re-read by a pass that started after `asked` (a
        `time.monotonic()`)."""
        while self._caught_up_at < asked:
            if self._catching is None:
                self._catching = asyncio.create_task(self._catch_up(), name="modelport-catch-up")
            await asyncio.shield(self._catching)

    async def _catch_up(self) -> None:
        started = time.monotonic()
        try:
            async with self._pass:
                await self._switch_releases(retry=False)
        finally:
            self._caught_up_at = max(self._caught_up_at, started)
            self._catching = None

    def start(self) -> None:
        if self.interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._poll(), name="modelport-reloader")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.reload()
            except Exception:  # the loop must outlive any one bad pass
                log.exception("repository poll failed")

    async def _switch_releases(self, retry: bool) -> set[str]:
        """The models the switch synced; none when it could not run."""
        try:
            return await self.switch.sync(retry)
        except Exception as exc:  # a corrupt .releases.json must not stop model syncs
            log.error("releases could not be switched: %s", translate(exc).message)
            return set()
