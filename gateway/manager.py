"""The model manager: loads versions, swaps routing tables, lends versions to requests.

`sync(name)` brings a model in line with what its source wants live: it loads (and keeps)
new versions first, then swaps the routing table in one assignment, then retires what is no
longer wanted, waiting for each retired version's leases before closing it. A version that
fails to load is recorded with its reason, and when it was meant to become the default the
previous default keeps serving. One action runs at a time per model (a per-model lock);
requests never take that lock.

Where version policies plug in: a watching Source calls `sync`; a Policy replaces `_plan`
(today's is availability-preserving); a warm-up inference belongs in `_load_into`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from gateway.errors import NotFound, Unavailable, translate
from gateway.served import Lease, Routing, ServedVersion, VersionState, VersionStatus
from gateway.source import DesiredModel, desired
from model_repo.aliases import AliasTarget
from model_repo.repository import Repository

log = logging.getLogger("modelport.gateway")
T = TypeVar("T")
Loader = Callable[[Repository, str, int], ServedVersion]  # runs in the admin executor


class ModelManager:
    def __init__(
        self, repo: Repository, loader: Loader, executor: Executor, drain_timeout: float = 30.0
    ) -> None:
        self.repo = repo
        self._loader = loader
        self._executor = executor
        self._drain_timeout = drain_timeout
        self._routes: dict[str, Routing] = {}
        self._pool: dict[str, dict[int, ServedVersion]] = {}  # loaded, routed or about to be
        self._failed: dict[str, dict[int, str]] = {}
        self._busy: dict[str, dict[int, VersionState]] = {}  # LOADING / UNLOADING right now
        self._locks: dict[str, asyncio.Lock] = {}

    # ---- the request path ---------------------------------------------------------------

    def lease(self, name: str, ref: str | None, key: str | None = None) -> Lease:
        routing = self._routes.get(name)
        if routing is None:
            raise NotFound(f"unknown model {name!r}")
        return Lease(routing.resolve(ref, key))

    def routing(self, name: str) -> Routing | None:
        return self._routes.get(name)

    def models(self) -> list[str]:
        return sorted(self._routes)

    # ---- actions ----------------------------------------------------------------------------

    async def sync(self, name: str) -> Routing | None:
        """Load what the repository wants live for `name`, switch to it, retire the rest."""
        async with self._lock(name):
            want = await self._run(desired, self.repo, name)
            if not want.stored:
                await self._drop(name)
                return None
            pool = self._pool.setdefault(name, {})
            for version in sorted(want.live - pool.keys()):
                await self._load_into(pool, name, version)
            routing = self._plan(want, pool)
            self._routes[name] = routing
            await self._retire(name, [v for v in list(pool) if v not in routing.versions])
            return routing

    async def prepare(self, name: str, version: int) -> None:
        """Load `version` ahead of a switch to it; raises with the reason if it cannot."""
        async with self._lock(name):
            stored = await self._run(self.repo.versions, name)
            if version not in stored:
                listed = ", ".join(map(str, stored)) or "none"
                raise NotFound(f"model {name!r} has no version {version} (versions: {listed})")
            pool = self._pool.setdefault(name, {})
            if version not in pool:
                await self._load_into(pool, name, version)
            if version not in pool:
                raise self._failure(name, version)

    async def unload(self, name: str) -> None:
        async with self._lock(name):
            current = self._routes.get(name)
            if current is None and name not in await self._run(self.repo.models):
                raise NotFound(f"unknown model {name!r}")
            stored = current.stored if current else ()
            self._routes[name] = Routing(name, {}, stored=stored, unloaded=True)
            self._failed.pop(name, None)
            await self._retire(name, list(self._pool.get(name, {})))

    async def close(self) -> None:
        for name in list(self._routes):
            await self.unload(name)

    def statuses(self, name: str) -> list[VersionStatus]:
        routing = self._routes.get(name)
        found: dict[int, VersionStatus] = {}
        if routing is not None:
            for version in routing.versions:
                found[version] = VersionStatus(name, version, VersionState.READY)
        for version, reason in self._failed.get(name, {}).items():
            found[version] = VersionStatus(name, version, VersionState.FAILED, reason)
        for version, state in self._busy.get(name, {}).items():
            found[version] = VersionStatus(name, version, state)
        if not found:
            why = "unloaded" if routing is not None and routing.unloaded else "not loaded"
            return [VersionStatus(name, None, VersionState.UNAVAILABLE, why)]
        return [found[v] for v in sorted(found)]

    # ---- internals --------------------------------------------------------------------------

    def _plan(self, want: DesiredModel, pool: dict[int, ServedVersion]) -> Routing:
        """Availability first: a default whose versions did not load yields to the old one."""
        name = want.name
        default = want.default
        previous = self._routes.get(name)
        if not _ready(default, pool) and previous is not None:
            old = previous.default
            if old is not None and _ready(old, pool) and set(old.versions) <= set(want.stored):
                log.warning("%s: keeping %s as default; the new one did not load", name, old)
                default = old
        keep = set(want.live) | set(default.versions if default else ())
        failed = {v: r for v, r in self._failed.get(name, {}).items() if v in want.stored}
        self._failed[name] = failed
        return Routing(
            name,
            versions={v: pool[v] for v in sorted(keep) if v in pool},
            aliases=dict(want.aliases),
            default=default,
            stored=want.stored,
            failed=dict(failed),
        )

    async def _load_into(self, pool: dict[int, ServedVersion], name: str, version: int) -> None:
        busy = self._busy.setdefault(name, {})
        busy[version] = VersionState.LOADING
        try:
            pool[version] = await self._run(self._loader, self.repo, name, version)
        except Exception as exc:
            reason = translate(exc).message
            log.error("%s version %d failed to load: %s", name, version, reason)
            self._failed.setdefault(name, {})[version] = reason
        else:
            self._failed.get(name, {}).pop(version, None)
            log.info("%s version %d loaded", name, version)
        finally:
            busy.pop(version, None)

    async def _retire(self, name: str, versions: list[int]) -> None:
        pool = self._pool.get(name, {})
        busy = self._busy.setdefault(name, {})
        for version in versions:
            served = pool.pop(version)
            busy[version] = VersionState.UNLOADING
            try:
                if not await served.drain(self._drain_timeout):
                    log.warning("%s version %d closed with leases out", name, version)
                await self._run(served.runtime.close)
            except Exception:
                log.exception("%s version %d did not close cleanly", name, version)
            finally:
                busy.pop(version, None)
            log.info("%s version %d unloaded", name, version)

    async def _drop(self, name: str) -> None:
        if name not in self._routes and name not in self._pool:
            raise NotFound(f"unknown model {name!r}")
        self._routes.pop(name, None)
        self._failed.pop(name, None)
        await self._retire(name, list(self._pool.get(name, {})))
        self._pool.pop(name, None)

    def _failure(self, name: str, version: int) -> Unavailable:
        reason = self._failed.get(name, {}).get(version, "see the server log")
        return Unavailable(f"model {name!r} version {version} failed to load: {reason}")

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, func, *args)


def _ready(target: AliasTarget | None, pool: dict[int, ServedVersion]) -> bool:
    return target is not None and all(v in pool for v in target.versions)
