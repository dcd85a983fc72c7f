"""The state of every version the manager knows, as the repository index reports it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from gateway.serving.routing_table import Routing


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


def version_statuses(
    name: str,
    routing: Routing | None,
    failed: Mapping[int, str],
    busy: Mapping[int, VersionState],
    problem: str | None = None,
) -> list[VersionStatus]:
    """Every known version's state for the index: ready, failed, loading or unloading.

    `problem`, why the model's stored state (aliases, config) could not be read at its last
    sync, is one more FAILED entry without a version: what is loaded keeps serving as it was.
    """
    found: dict[int, VersionStatus] = {}
    for version in routing.versions if routing is not None else ():
        found[version] = VersionStatus(name, version, VersionState.READY)
    for version, reason in failed.items():
        found[version] = VersionStatus(name, version, VersionState.FAILED, reason)
    for version, state in busy.items():
        found[version] = VersionStatus(name, version, state)
    statuses = [found[v] for v in sorted(found)]
    if problem is not None:
        return [VersionStatus(name, None, VersionState.FAILED, problem), *statuses]
    if not statuses:
        why = "unloaded" if routing is not None and routing.unloaded else "not loaded"
        return [VersionStatus(name, None, VersionState.UNAVAILABLE, why)]
    return statuses
