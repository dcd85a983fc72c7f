"""The model manager: carries out the policy's actions and publishes what requests may use.

`sync(name)` reads what the source wants live for a model, then asks the model's policy
(gateway.control.policy) for one action at a time - load X, unload Y - until there is none.
After each load (which ends with a warm-up inference) and before each unload, the model's
routing table is rebuilt and published into the `ServingTable` in one assignment; requests
read only that table (gateway.serving). An unloaded version is closed only after its leases
come back (bounded by the drain timeout). A version that fails to load is FAILED with its
reason, and every alias keeps its old target until the new one serves. One sync runs at a
time per model (a per-model lock); requests never take that lock.

Besides the source, three things keep versions live: release groups (the table's release
board, switched by gateway.control.release_switch), holds taken by an admin action while it
switches something to a version (`holding`), and, under availability-preserving policies,
the old targets of aliases whose new targets cannot serve yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from concurrent.futures import Executor
from typing import Any, TypeVar

from gateway.control.calls import run_blocking
from gateway.control.loader import Loader, warm_up
from gateway.control.policy import POLICIES, Act, Action, VersionView
from gateway.control.source import DesiredModel, desired
from gateway.control.statuses import VersionState, VersionStatus, version_statuses
from gateway.control.table_rules import (
    build_routing,
    fallback_versions,
    switch_refusal,
    version_views,
)
from gateway.errors import NotFound, translate
from gateway.serving.routing_table import Routing, ServingTable
from gateway.serving.versions import ServedVersion
from model_repo.model_config import Preserve
from model_repo.repository import Repository

log = logging.getLogger("modelport.gateway")
T = TypeVar("T")
_NONE: frozenset[int] = frozenset()


class ModelManager:
    def __init__(
        self,
        repo: Repository,
        table: ServingTable,
        loader: Loader,
        executor: Executor,
        drain_timeout: float = 30.0,
    ) -> None:
        self.repo = repo
        self.table = table
        self._loader = loader
        self._executor = executor
        self._drain_timeout = drain_timeout
        self._pool: dict[str, dict[int, ServedVersion]] = {}  # loaded and routable
        self._draining: dict[str, dict[int, ServedVersion]] = {}  # retired, leases still out
        self._failed: dict[str, dict[int, str]] = {}
        self._busy: dict[str, dict[int, VersionState]] = {}  # LOADING / UNLOADING right now
        self._held: dict[str, Counter[int]] = {}
        self._unloaded: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    def models(self) -> list[str]:
        """Models served, and models whose stored state could not be read (see `statuses`)."""
        return sorted({*self.table.routes, *self.table.problems})

    # ---- actions ----------------------------------------------------------------------------

    async def sync(self, name: str) -> Routing | None:
        """Carry out the policy's actions until it has none; the routing table then."""
        async with self._lock(name):
            problems = self.table.problems
            try:
                want = await self.run(desired, self.repo, name)
            except Exception as exc:  # a corrupt aliases.json, config.json ...
                error = translate(exc)
                problems[name] = error.message  # for the index; routing stays as it was
                routing = self.table.routing(name)
                if name not in self._unloaded or routing is None:
                    raise error from exc
                # Unloading needs nothing from the repository: everything goes.
                want = DesiredModel(name, routing.stored, routing.aliases, routing.default, _NONE)
            else:
                problems.pop(name, None)
            if not want.stored:
                await self._drop(name)
                return None
            self._forget_deleted(want)
            policy = POLICIES[want.preserve]
            while (action := policy(self._views(want))) is not None:
                await self._act(want, action)
            return self._publish(want)

    async def load(self, name: str) -> Routing | None:
        """Serve a model again after `unload`, retrying versions that failed to load."""
        self._unloaded.discard(name)
        self._failed.pop(name, None)
        return await self.sync(name)

    async def unload(self, name: str) -> None:
        if name not in self.table.routes and name not in await self.run(self.repo.models):
            raise NotFound(f"unknown model {name!r}")
        self._unloaded.add(name)
        await self.sync(name)

    @contextlib.asynccontextmanager
    async def holding(self, targets: Mapping[str, Collection[int]]) -> AsyncIterator[None]:
        """Load and keep `targets` (model -> versions) live while the caller switches to them.

        Raises, before the caller changes anything, when one of them cannot serve.
        """
        for name, versions in targets.items():
            self._held.setdefault(name, Counter()).update(versions)
        try:
            for name, versions in targets.items():
                await self.sync(name)
                for version in versions:
                    self._check_serves(name, version)
            yield
        finally:
            for name, versions in targets.items():
                held = self._held.get(name, Counter())
                held.subtract(versions)
                if +held:
                    self._held[name] = +held  # drop counts at zero
                else:  # no entry left behind (a name nobody serves, say)
                    self._held.pop(name, None)
            for name in targets:
                await self.sync_quietly(name)

    async def sync_quietly(self, name: str) -> None:
        """`sync`, logging instead of raising: for background and clean-up work."""
        try:
            await self.sync(name)
        except Exception as exc:  # already reported by whoever failed first
            log.error("model %s could not be synced: %s", name, translate(exc).message)

    async def close(self) -> None:
        """Unload every version (at shutdown), whatever the repository holds by now: a sync
        that could not read it would leave its sessions open."""
        for name in sorted({*self.table.routes, *self._pool}):
            async with self._lock(name):
                await self._drop(name)

    # ---- state ------------------------------------------------------------------------------

    def statuses(self, name: str) -> list[VersionStatus]:
        return version_statuses(
            name,
            self.table.routing(name),
            self._failed.get(name, {}),
            self._busy.get(name, {}),
            self.table.problems.get(name),
        )

    def leases(self, name: str) -> dict[int, int]:
        """Requests in flight per version, on routable and on draining versions."""
        lent = {**self._pool.get(name, {}), **self._draining.get(name, {})}
        return {version: served.leases for version, served in sorted(lent.items())}

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """Run blocking work (repository reads, loads) in the admin executor."""
        return await run_blocking(self._executor, func, *args)

    # ---- internals --------------------------------------------------------------------------

    def _views(self, want: DesiredModel) -> list[VersionView]:
        name = want.name
        pool = self._pool.setdefault(name, {})
        wanted: set[int] = set()
        if name not in self._unloaded:
            wanted = {*want.live, *self.table.releases.pins(name), *self._held.get(name, ())}
            if want.preserve is Preserve.AVAILABILITY:
                wanted |= fallback_versions(want, self.table.routing(name), pool)
        wanted &= set(want.stored)
        failed = self._failed.get(name, {}).keys() & set(want.stored)
        return version_views(wanted, pool.keys(), failed, self._busy.get(name, {}))

    async def _act(self, want: DesiredModel, action: Action) -> None:
        log.info("%s: %s", want.name, action)
        if action.act is Act.LOAD:
            await self._load(want, action.version)
            self._publish(want)
        else:
            self._publish(want, without=action.version)  # no new request gets it from here on
            await self._retire(want.name, action.version)

    def _publish(self, want: DesiredModel, without: int | None = None) -> Routing:
        name = want.name
        ready = {v: s for v, s in self._pool.get(name, {}).items() if v != without}
        loading = [v for v, s in self._busy.get(name, {}).items() if s is VersionState.LOADING]
        routing = build_routing(
            want,
            ready,
            self.table.routing(name),
            self._failed.get(name, {}),
            loading,
            unloaded=name in self._unloaded,
        )
        self.table.publish(routing)
        return routing

    async def _load(self, want: DesiredModel, version: int) -> None:
        name = want.name
        busy = self._busy.setdefault(name, {})
        busy[version] = VersionState.LOADING
        self._publish(want)  # requests for it hear "loading", not "not loaded"
        try:
            served = await self.run(self._loader, self.repo, name, version)
            await warm_up(served)
        except Exception as exc:
            reason = translate(exc).message
            log.error("%s version %d failed to load: %s", name, version, reason)
            self._failed.setdefault(name, {})[version] = reason
        else:
            self._pool.setdefault(name, {})[version] = served
            self._failed.get(name, {}).pop(version, None)
            log.info("%s version %d loaded", name, version)
        finally:
            busy.pop(version, None)

    async def _retire(self, name: str, version: int) -> None:
        served = self._pool[name].pop(version)
        draining = self._draining.setdefault(name, {})
        draining[version] = served
        busy = self._busy.setdefault(name, {})
        busy[version] = VersionState.UNLOADING
        out, started = served.leases, time.monotonic()
        try:
            if not await served.drain(self._drain_timeout):
                log.warning("%s version %d closed with leases out", name, version)
            served.closed = True  # requests still on it fail as 503, not as bad input
            await self.run(served.runtime.close)
        except asyncio.CancelledError:  # stopping: close it here, or it is never closed
            if not served.closed:
                served.closed = True
                served.runtime.close()
            raise
        except Exception:
            log.exception("%s version %d did not close cleanly", name, version)
        finally:
            busy.pop(version, None)
            draining.pop(version, None)
        log.info(
            "%s version %d unloaded: %d lease(s) were out when it was retired, "
            "%d when it closed %.3f s later (at %.6f)",
            *(name, version, out, served.leases, time.monotonic() - started, time.time()),
        )

    async def _drop(self, name: str) -> None:
        """Stop routing to the model and unload every version: it is gone, or we stop."""
        self.table.withdraw(name)
        self._failed.pop(name, None)
        self._unloaded.discard(name)  # a model of that name published later is served
        for version in list(self._pool.get(name, {})):
            await self._retire(name, version)
        self._pool.pop(name, None)

    def _forget_deleted(self, want: DesiredModel) -> None:
        """A version deleted from the repository leaves the index, failed or not."""
        failed = self._failed.get(want.name)
        if failed:
            for version in [v for v in failed if v not in want.stored]:
                del failed[version]

    def _check_serves(self, name: str, version: int) -> None:
        refusal = switch_refusal(name, self.table.routing(name), version)
        if refusal is not None:
            raise refusal

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())
