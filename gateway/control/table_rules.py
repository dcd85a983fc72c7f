"""How the manager builds a model's routing table and the view its policy decides on.

Pure functions of the desired state, the loaded versions and the previous table. The one
rule beyond "route to what the repository says": an alias (or the default) whose new target
cannot serve yet keeps its previous target while that one still can, so a switch to a
version that is loading or failed to load never leaves the alias without an answer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from gateway.control.policy import Phase, VersionView
from gateway.control.source import DesiredModel
from gateway.control.statuses import VersionState
from gateway.errors import Conflict, GatewayError, NotFound
from gateway.serving.routing_table import Routing
from gateway.serving.versions import ServedVersion
from model_repo.aliases import AliasTarget

_PHASES = {VersionState.LOADING: Phase.LOADING, VersionState.UNLOADING: Phase.UNLOADING}


def serves(target: AliasTarget | None, ready: Collection[int]) -> bool:
    return target is not None and all(v in ready for v in target.versions)


def effective(
    new: AliasTarget | None, old: AliasTarget | None, ready: Collection[int]
) -> AliasTarget | None:
    """The target to route by: the new one if it serves, else the old one if that does."""
    if new is None or serves(new, ready) or not serves(old, ready):
        return new
    return old


def fallback_versions(
    want: DesiredModel, previous: Routing | None, ready: Collection[int]
) -> set[int]:
    """Versions that previous targets still serve while their new targets cannot."""
    if previous is None:
        return set()
    kept: set[int] = set()
    pairs = [(want.default, previous.default)]
    pairs += [(new, previous.aliases.get(alias)) for alias, new in want.aliases.items()]
    for new, old in pairs:
        chosen = effective(new, old, ready)
        if chosen is old and old is not None:
            kept.update(old.versions)
    return kept


def version_views(
    wanted: Collection[int],
    loaded: Collection[int],
    failed: Collection[int],
    busy: Mapping[int, VersionState],
) -> list[VersionView]:
    """Every version the policy should know about, with its phase."""
    views = []
    for version in sorted({*wanted, *loaded, *failed, *busy}):
        if version in busy:
            phase = _PHASES.get(busy[version], Phase.LOADING)
        elif version in loaded:
            phase = Phase.READY
        elif version in failed:
            phase = Phase.FAILED
        else:
            phase = Phase.NEW
        views.append(VersionView(version, phase, version in wanted))
    return views


def build_routing(
    want: DesiredModel,
    ready: Mapping[int, ServedVersion],
    previous: Routing | None,
    failed: Mapping[int, str],
    loading: Collection[int],
    unloaded: bool,
) -> Routing:
    """The routing table for the versions in `ready`, following `want` where they allow."""
    old_aliases = previous.aliases if previous is not None else {}
    aliases = {a: effective(t, old_aliases.get(a), ready) or t for a, t in want.aliases.items()}
    default = effective(want.default, previous.default if previous else None, ready)
    return Routing(
        want.name,
        versions=dict(sorted(ready.items())),
        aliases=aliases,
        default=default,
        stored=want.stored,
        failed={v: r for v, r in failed.items() if v in want.stored},
        loading=frozenset(loading),
        unloaded=unloaded,
    )


def switch_refusal(name: str, routing: Routing | None, version: int) -> GatewayError | None:
    """Why an alias or a release may not switch to `version` of `name`; None if it may."""
    if routing is None:
        return NotFound(f"unknown model {name!r}")
    if version in routing.versions:
        return None
    if routing.unloaded:
        return Conflict(
            f"model {name!r} is unloaded; load it (POST /v2/repository/models/{name}/load) "
            "before pointing an alias or a release at it; nothing was changed"
        )
    if version not in routing.stored:
        listed = ", ".join(map(str, routing.stored)) or "none"
        return NotFound(f"model {name!r} has no version {version} (versions: {listed})")
    failed = routing.failed.get(version)
    why = f"failed to load: {failed}" if failed else "is not loaded"
    return Conflict(f"model {name!r} version {version} {why}; nothing was changed")
