"""The version policies as tables: the versions' states in, the next action out.

Each state is written `<version><phase>[*]`: phase N(ew), L(oading), R(eady), F(ailed),
U(nloading); `*` marks a wanted version. The expected action is "load 3", "unload 1" or "-".
"""

from __future__ import annotations

import pytest

from gateway.control.policy import (
    Act,
    Action,
    Phase,
    VersionView,
    availability_preserving,
    resource_preserving,
)

PHASES = {"N": Phase.NEW, "L": Phase.LOADING, "R": Phase.READY, "F": Phase.FAILED}
PHASES["U"] = Phase.UNLOADING


def views(table: str) -> list[VersionView]:
    found = []
    for cell in table.split():
        wanted = cell.endswith("*")
        cell = cell.rstrip("*")
        found.append(VersionView(int(cell[:-1]), PHASES[cell[-1]], wanted))
    return found


def action(text: str) -> Action | None:
    if text == "-":
        return None
    act, version = text.split()
    return Action(Act(act), int(version))


AVAILABILITY = [
    # states                 next action   why
    ("1N*", "load 1", "the first version of a model"),
    ("1R*", "-", "steady state"),
    ("1R 2N*", "load 2", "a new version: load it before anything goes"),
    ("1R 2L*", "-", "one action at a time: wait for the load"),
    ("1R 2R*", "unload 1", "the new one serves: the old one goes"),
    ("1U 2R*", "-", "one action at a time: wait for the unload"),
    ("1R 2F*", "-", "the new one failed: the old one keeps serving"),
    ("1R* 2R 3N*", "load 3", "loads come before unloads"),
    ("1R* 2R 3R*", "unload 2", "a version no longer wanted goes once the wanted serve"),
    ("1R 2R 3R*", "unload 1", "the oldest unwanted goes first"),
    ("1R* 2N* 3N*", "load 3", "the newest first: it is the one asked for"),
    ("1R* 2F 3N*", "load 3", "a failed version is not retried by the policy"),
    ("1R 2R", "unload 1", "nothing wanted (deleted, unloaded): everything goes"),
    ("1F", "-", "nothing to do for a failed, unwanted version"),
    ("1R 2F* 3F*", "-", "every wanted failed: keep the old serving"),
    ("1R 2R* 3F*", "unload 1", "one wanted serves: the unwanted may go"),
]

RESOURCES = [
    ("1N*", "load 1", "the first version"),
    ("1R 2N*", "unload 1", "too big for two copies: the old goes first"),
    ("1U 2N*", "-", "wait for the unload"),
    ("2N*", "load 2", "then the new one loads"),
    ("2L*", "-", "wait for the load"),
    ("1R 2F*", "unload 1", "a failed new version does not keep the old (resources first)"),
    ("1R* 2R 3N*", "unload 2", "unloads come before loads"),
    ("1R* 2R*", "-", "steady state"),
]


@pytest.mark.parametrize(("states", "expected", "why"), AVAILABILITY)
def test_availability_preserving(states: str, expected: str, why: str) -> None:
    assert availability_preserving(views(states)) == action(expected), why


@pytest.mark.parametrize(("states", "expected", "why"), RESOURCES)
def test_resource_preserving(states: str, expected: str, why: str) -> None:
    assert resource_preserving(views(states)) == action(expected), why


@pytest.mark.parametrize("policy", [availability_preserving, resource_preserving])
def test_a_policy_run_converges(policy) -> None:
    """Carrying out each action (loads succeed) reaches a state with nothing left to do."""
    state = {1: Phase.READY, 2: Phase.READY, 3: Phase.NEW, 4: Phase.NEW}
    wanted = {3, 4}
    for _ in range(10):
        step = policy([VersionView(v, p, v in wanted) for v, p in sorted(state.items())])
        if step is None:
            break
        if step.act is Act.LOAD:
            state[step.version] = Phase.READY
        else:
            del state[step.version]
    assert state == {3: Phase.READY, 4: Phase.READY}
