"""The manager on a real repository of tiny ONNX models: leases, switches, failures, unload."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from gateway.control.loader import version_loader
from gateway.control.manager import ModelManager
from gateway.control.statuses import VersionState
from gateway.errors import NotFound, Unavailable
from gateway.metrics import GatewayMetrics
from gateway.serving.routing_table import ServingTable
from model_repo.aliases import AliasTarget
from model_repo.repository import Repository
from tests.artifacts import publish_tiny

X = {"x": np.array([[1.0, 2.0]], dtype=np.float32)}


def version_of(manager: ModelManager, ref: str | None) -> int:
    with manager.table.lease("m", ref) as served:
        return served.version


def manager_for(
    repo: Repository, pools: tuple[ThreadPoolExecutor, ThreadPoolExecutor], drain: float = 5.0
) -> ModelManager:
    admin, inference = pools
    return ModelManager(
        repo, ServingTable(), version_loader(GatewayMetrics(), inference), admin, drain
    )


def test_a_request_finishes_on_the_version_it_started_with(tmp_path: Path, pools) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "m", offset=1.0)

    async def scenario() -> None:
        manager = manager_for(repo, pools)
        await manager.sync("m")
        lease = manager.table.lease("m", None)
        old = lease.served
        publish_tiny(repo, "m", offset=2.0)
        switch = asyncio.create_task(manager.sync("m"))
        await asyncio.sleep(0.3)
        assert version_of(manager, None) == 2  # new requests: the new version
        assert not switch.done()  # the old one is still lent out
        assert (await old.runtime.predict(X))["y"].tolist() == [[2.0, 3.0]]
        with lease:
            pass
        await asyncio.wait_for(switch, 5)
        assert old.retired and old.leases == 0
        assert [s.version for s in manager.statuses("m")] == [2]

    asyncio.run(scenario())


def test_a_version_that_fails_to_load_leaves_the_old_one_serving_until_deleted(
    tmp_path: Path, pools
) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "m")

    async def scenario() -> None:
        manager = manager_for(repo, pools)
        await manager.sync("m")
        broken = publish_tiny(repo, "m", offset=5.0)
        artifact = repo.artifact_path("m", broken.version)
        artifact.write_bytes(artifact.read_bytes() + b"!")
        await manager.sync("m")
        with manager.table.lease("m", None) as served:
            assert served.version == 1
        states = {s.version: (s.state, s.reason) for s in manager.statuses("m")}
        assert states[1] == (VersionState.READY, "")
        assert states[2][0] is VersionState.FAILED and "does not match its sha256" in states[2][1]
        with pytest.raises(Unavailable, match="version 2 failed to load"):
            manager.table.lease("m", "2")
        repo.delete_version("m", 2)  # a deleted version leaves the index, failed or not
        await manager.sync("m")
        assert [(s.version, s.state) for s in manager.statuses("m")] == [(1, VersionState.READY)]

    asyncio.run(scenario())


def test_aliases_unload_and_what_is_not_there(tmp_path: Path, pools) -> None:
    repo = Repository(tmp_path)
    for offset in (1.0, 2.0, 3.0):
        publish_tiny(repo, "m", offset)
    repo.set_alias("m", "stable", AliasTarget(version=1))

    async def scenario() -> None:
        manager = manager_for(repo, pools)
        await manager.sync("m")
        assert version_of(manager, None) == 1
        assert version_of(manager, "3") == 3  # the latest is always live
        with pytest.raises(NotFound, match="version 2 is not loaded"):
            manager.table.lease("m", "2")
        with pytest.raises(NotFound, match="has no version 7"):
            manager.table.lease("m", "7")
        with pytest.raises(NotFound, match="has no alias 'beta' \\(aliases: stable\\)"):
            manager.table.lease("m", "beta")
        with pytest.raises(NotFound, match="unknown model 'x'"):
            manager.table.lease("x", None)
        await manager.unload("m")
        with pytest.raises(NotFound, match="is unloaded"):
            manager.table.lease("m", None)
        assert manager.statuses("m")[0].reason == "unloaded"
        await manager.sync("m")  # a poll does not undo an explicit unload
        assert manager.statuses("m")[0].reason == "unloaded"
        await manager.load("m")
        assert version_of(manager, "stable") == 1

    asyncio.run(scenario())


def test_an_unload_waits_for_leases_only_as_long_as_the_drain_timeout(
    tmp_path: Path, pools
) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "m")

    async def scenario() -> None:
        manager = manager_for(repo, pools, drain=0.2)
        await manager.sync("m")
        held = manager.table.lease("m", None)
        await asyncio.wait_for(manager.unload("m"), 2)
        assert held.served.retired and held.served.leases == 1

    asyncio.run(scenario())
