"""Version policies: pure functions from the state of a model's versions to the next action.

The manager describes every version it knows of a model (is it wanted live? is it new,
loading, ready, failed, unloading?) and asks a policy for one action; it carries that out
and asks again, until the policy answers None. Nothing here does I/O, so the policies are
tested with tables of states (tests/gateway/test_policy.py).

- `availability_preserving` (the default): load every wanted version first (newest first);
  only then unload unwanted ones, and only while some wanted version is ready to serve, so
  a failed load leaves the old version serving.
- `resource_preserving`: unload unwanted versions first, then load, for models too big for
  two copies; requests in the gap find nothing to serve.

Both wait while anything is loading or unloading: one action at a time per model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from model_repo.model_config import Preserve


class Phase(StrEnum):
    NEW = "new"  # stored, neither loaded nor failed
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    UNLOADING = "unloading"


class Act(StrEnum):
    LOAD = "load"
    UNLOAD = "unload"


@dataclass(frozen=True)
class VersionView:
    version: int
    phase: Phase
    wanted: bool


@dataclass(frozen=True)
class Action:
    act: Act
    version: int

    def __str__(self) -> str:
        return f"{self.act.value} {self.version}"


Policy = Callable[[Sequence[VersionView]], Action | None]


def availability_preserving(views: Sequence[VersionView]) -> Action | None:
    if _busy(views):
        return None
    to_load = _to_load(views)
    if to_load is not None:
        return to_load
    wanted = [v for v in views if v.wanted]
    # With nothing wanted, everything goes; otherwise keep the old until a new one serves.
    if wanted and not any(v.phase is Phase.READY for v in wanted):
        return None
    return _to_unload(views)


def resource_preserving(views: Sequence[VersionView]) -> Action | None:
    if _busy(views):
        return None
    return _to_unload(views) or _to_load(views)


POLICIES: dict[Preserve, Policy] = {
    Preserve.AVAILABILITY: availability_preserving,
    Preserve.RESOURCES: resource_preserving,
}


def _busy(views: Sequence[VersionView]) -> bool:
    return any(v.phase in (Phase.LOADING, Phase.UNLOADING) for v in views)


def _to_load(views: Sequence[VersionView]) -> Action | None:
    """The newest wanted version not yet loaded: it is the one most likely to be asked for."""
    new = [v.version for v in views if v.wanted and v.phase is Phase.NEW]
    return Action(Act.LOAD, max(new)) if new else None


def _to_unload(views: Sequence[VersionView]) -> Action | None:
    """The oldest ready version nobody wants."""
    unwanted = [v.version for v in views if not v.wanted and v.phase is Phase.READY]
    return Action(Act.UNLOAD, min(unwanted)) if unwanted else None
