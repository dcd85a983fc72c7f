"""Routing tables: what a request reads to find the version it runs on.

A model's `Routing` is swapped whole by the manager, so a request sees one consistent view:
its versions, aliases, default, and why a version it asks for is missing. The `ServingTable`
holds every model's routing, the release board and the models whose stored state could not
be read; the manager publishes into it (gateway.control), requests only read it. Nothing
here locks: a lookup is a dict read and a lease an integer increment on the event loop.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.errors import GatewayError, InvalidInput, NotFound, Unavailable, UnknownAlias
from gateway.serving.release_board import ReleaseBoard
from gateway.serving.versions import Lease, ServedVersion
from model_repo.aliases import AliasTarget


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
            raise UnknownAlias(
                f"model {self.name!r} has no alias {ref!r} (aliases: {known}); "
                "a version is a number or an alias"
            )
        return target

    def resolve_version(self, version: int) -> ServedVersion:
        served = self.versions.get(version)
        if served is None:
            raise self.missing(version)
        return served

    def missing(self, version: int) -> GatewayError:
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


class ServingTable:
    """Every model's routing, the release board, and the models that cannot be read.

    `problems` holds, per model, why its last sync could not read its stored state (a corrupt
    aliases.json ...): such a model keeps its routing as it was, or has none.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Routing] = {}
        self.problems: dict[str, str] = {}
        self.releases = ReleaseBoard()

    def lease(
        self,
        name: str,
        ref: str | None,
        key: str | None = None,
        release: str | None = None,
        revision: str | None = None,
    ) -> Lease:
        """Lend the version that `ref` (a number or an alias) or `release` names."""
        routing = self.routes.get(name)
        if routing is None:
            raise self.not_served(name)
        if release is None:
            if revision is not None:
                raise InvalidInput(
                    "X-Modelport-Release-Revision needs X-Modelport-Release: name the release "
                    "whose revision this is"
                )
            return routing.lease(ref, key)
        version, pinned = self.releases.resolve(release, revision, name)
        if ref and ref != str(version):
            raise InvalidInput(
                f"release {release!r} serves {name!r} version {version}, not {ref!r}: "
                "name a release or a version, not both"
            )
        return Lease(routing.resolve_version(version), None, pinned)

    def routing(self, name: str) -> Routing | None:
        return self.routes.get(name)

    def publish(self, routing: Routing) -> None:
        self.routes[routing.name] = routing  # the switch: one assignment

    def withdraw(self, name: str) -> None:
        """Stop routing to a model: it is gone, or the gateway stops."""
        self.routes.pop(name, None)
        self.problems.pop(name, None)

    def not_served(self, name: str) -> GatewayError:
        """Why a model without a routing table has none."""
        problem = self.problems.get(name)
        if problem is not None:
            return Unavailable(f"model {name!r} cannot be served: {problem}")
        return NotFound(f"unknown model {name!r}")

    def cannot_serve(self, name: str, version: int) -> str | None:
        """Why `version` of `name` cannot serve a request now; None when it can."""
        routing = self.routes.get(name)
        if routing is None:
            return self.not_served(name).message
        if version in routing.versions:
            return None
        if name in self.problems:  # the routing is stale: say why it is
            return self.not_served(name).message
        return routing.missing(version).message
