"""Loaded versions, the leases requests take on them, and a model's routing table.

The request path never locks: a request looks up the model's current `Routing` (one dict
read), resolves its version once, and takes a `Lease` on that `ServedVersion` (an integer
increment on the event loop thread). Whatever the manager swaps in meanwhile, the request
finishes on the version it started with; a retired version is closed only after its last
lease comes back (`drain`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import TYPE_CHECKING

from gateway.errors import NotFound, Unavailable
from gateway.fitting import InputPlan
from gateway.runtime import Runtime
from model_repo.aliases import AliasTarget
from model_repo.manifest import Manifest

if TYPE_CHECKING:
    from gateway.metrics import VersionStats


class VersionState(StrEnum):
    LOADING = "LOADING"
    READY = "READY"
    FAILED = "FAILED"
    UNLOADING = "UNLOADING"
    UNAVAILABLE = "UNAVAILABLE"  # stored but not loaded, or unloaded on request


@dataclass(frozen=True)
class VersionStatus:
    name: str
    version: int | None
    state: VersionState
    reason: str = ""


class ServedVersion:
    """One loaded version: manifest, runtime, input plan, and the leases out on it."""

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
        "stats",
        "version",
    )

    def __init__(
        self, manifest: Manifest, runtime: Runtime, platform: str, stats: VersionStats
    ) -> None:
        self.name = manifest.name
        self.version = manifest.version
        self.manifest = manifest
        self.runtime = runtime
        self.platform = platform
        self.stats = stats
        self.plan = InputPlan(manifest.signature)
        self.datatypes = {spec.name: spec.datatype for spec in manifest.signature.outputs}
        self.leases = 0
        self.retired = False  # no new request gets it
        self.closed = False  # its runtime is closed (leases still out after the drain timeout)
        self._drained: asyncio.Event | None = None

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


@dataclass(frozen=True)
class Routing:
    """A model's routing table. Swapped whole, so every request sees one consistent view."""

    name: str
    versions: Mapping[int, ServedVersion]
    aliases: Mapping[str, AliasTarget] = field(default_factory=dict)
    default: AliasTarget | None = None
    stored: tuple[int, ...] = ()
    failed: Mapping[int, str] = field(default_factory=dict)  # version -> reason
    loading: frozenset[int] = frozenset()
    unloaded: bool = False

    def lease(self, ref: str | None, key: str | None = None) -> Lease:
        """Lend the version `ref` resolves to, and the alias's shadow if this request copies."""
        target = self.target(ref)
        if target is None:  # a version number
            return Lease(self.resolve_version(int(ref or 0)))
        served = self.resolve_version(target.pick(key))
        shadow = target.shadow
        if shadow is not None and random.random() * 100.0 < shadow.percent:
            return Lease(served, self.versions.get(shadow.version))
        return Lease(served)

    def target(self, ref: str | None) -> AliasTarget | None:
        """The alias target `ref` names (the default for None); None for a version number."""
        if self.unloaded:
            raise NotFound(f"model {self.name!r} is unloaded; load it through the repository API")
        if not ref:
            if self.default is None:
                raise Unavailable(f"model {self.name!r} has no version to serve")
            return self.default
        if ref.isascii() and ref.isdigit():
            return None
        target = self.aliases.get(ref)
        if target is None:
            known = ", ".join(sorted(self.aliases)) or "none"
            raise NotFound(
                f"model {self.name!r} has no alias {ref!r} (aliases: {known}); "
                "a version is a number or an alias"
            )
        return target

    def resolve_version(self, version: int) -> ServedVersion:
        served = self.versions.get(version)
        if served is None:
            raise self.missing(version)
        return served

    def missing(self, version: int) -> Exception:
        if self.unloaded:  # a release request or a status call, which skip `target`
            return NotFound(f"model {self.name!r} is unloaded; load it through the repository API")
        if version in self.failed:
            return Unavailable(
                f"model {self.name!r} version {version} failed to load: {self.failed[version]}"
            )
        if version in self.loading:
            return Unavailable(f"model {self.name!r} version {version} is loading; retry shortly")
        serving = ", ".join(map(str, sorted(self.versions))) or "none"
        if version in self.stored:
            return NotFound(
                f"model {self.name!r} version {version} is not loaded (serving: {serving})"
            )
        stored = ", ".join(map(str, self.stored)) or "none"
        return NotFound(f"model {self.name!r} has no version {version} (versions: {stored})")
