"""The manager with version policies, holds and releases, on a repository of tiny ONNX models."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gateway.control.loader import version_loader
from gateway.control.manager import ModelManager
from gateway.control.release_switch import ReleaseSwitch
from gateway.control.statuses import VersionState
from gateway.errors import Conflict, InvalidInput, NotFound, Unavailable
from gateway.metrics import GatewayMetrics
from gateway.serving.routing_table import ServingTable
from gateway.serving.versions import ServedVersion
from model_repo.aliases import AliasTarget
from model_repo.model_config import ModelConfig, Preserve, VersionPolicy
from model_repo.repository import Repository
from tests.artifacts import publish_tiny


class Recorder:
    """A loader that records loads and closes, in order."""

    def __init__(self, pools: tuple[ThreadPoolExecutor, ThreadPoolExecutor]) -> None:
        self.events: list[str] = []
        self._load = version_loader(GatewayMetrics(), pools[1])

    def __call__(self, repo: Repository, name: str, version: int) -> ServedVersion:
        served = self._load(repo, name, version)
        close = served.runtime.close

        def recorded_close() -> None:
            self.events.append(f"close {name}:{version}")
            close()

        served.runtime.close = recorded_close  # type: ignore[method-assign]
        self.events.append(f"load {name}:{version}")
        return served


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


def loaded(manager: ModelManager, name: str = "m") -> list[int]:
    routing = manager.table.routing(name)
    return sorted(routing.versions) if routing else []


def test_version_policies_choose_what_is_live(tmp_path: Path, pools) -> None:
    repo = Repository(tmp_path)
    for offset in (1.0, 2.0, 3.0, 4.0):
        publish_tiny(repo, "m", offset)

    async def scenario() -> None:
        manager = ModelManager(repo, ServingTable(), Recorder(pools), pools[0], 2.0)
        assert (await manager.sync("m")) and loaded(manager) == [4]
        for policy, live in [
            (VersionPolicy(latest=2), [3, 4]),
            (VersionPolicy(latest=None, all=True), [1, 2, 3, 4]),
            (VersionPolicy(latest=None, specific=(1, 3, 9)), [1, 3]),
        ]:
            repo.set_config("m", ModelConfig(policy))
            await manager.sync("m")
            assert loaded(manager) == live, policy
        with manager.table.lease("m", None) as served:
            assert served.version == 3  # the newest the policy keeps
        repo.set_alias("m", "old", AliasTarget(version=2))
        await manager.sync("m")
        assert loaded(manager) == [1, 2, 3]  # an alias target is always live
        await manager.close()

    asyncio.run(scenario())


def test_availability_loads_first_resources_unloads_first(tmp_path: Path, pools) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "a", 1.0)
    publish_tiny(repo, "r", 1.0)
    repo.set_config("r", ModelConfig(preserve=Preserve.RESOURCES))

    async def scenario() -> None:
        recorder = Recorder(pools)
        manager = ModelManager(repo, ServingTable(), recorder, pools[0], 2.0)
        for name in ("a", "r"):
            await manager.sync(name)
            publish_tiny(repo, name, 2.0)
            recorder.events.clear()
            await manager.sync(name)
            expected = ["load a:2", "close a:1"] if name == "a" else ["close r:1", "load r:2"]
            assert recorder.events == expected
            assert loaded(manager, name) == [2]
        await manager.close()

    asyncio.run(scenario())


def test_a_failed_version_keeps_the_old_serving_and_refuses_an_alias(tmp_path: Path, pools):
    repo = Repository(tmp_path)
    publish_tiny(repo, "m", 1.0)

    async def scenario() -> None:
        manager = ModelManager(repo, ServingTable(), Recorder(pools), pools[0], 2.0)
        await manager.sync("m")
        broken = publish_tiny(repo, "m", 2.0)
        artifact = repo.artifact_path("m", broken.version)
        artifact.write_bytes(artifact.read_bytes() + b"!")
        await manager.sync("m")
        assert loaded(manager) == [1]
        with manager.table.lease("m", None) as served:
            assert served.version == 1
        with pytest.raises(Conflict, match=r"version 2 failed to load: .*sha256"):
            async with manager.holding({"m": (2,)}):
                raise AssertionError("not reached")
        with pytest.raises(NotFound, match="has no version 7"):
            async with manager.holding({"m": (7,)}):
                raise AssertionError("not reached")
        with pytest.raises(NotFound, match="unknown model 'ghost'"):
            async with manager.holding({"ghost": (1,)}):
                raise AssertionError("not reached")
        await manager.close()

    asyncio.run(scenario())


def test_a_deleted_version_finishes_its_requests_then_is_404(tmp_path: Path, pools) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "m", 1.0)
    publish_tiny(repo, "m", 2.0)
    repo.set_config("m", ModelConfig(VersionPolicy(latest=None, all=True)))

    async def scenario() -> None:
        manager = ModelManager(repo, ServingTable(), Recorder(pools), pools[0], 5.0)
        await manager.sync("m")
        lease = manager.table.lease("m", "1")
        repo.delete_version("m", 1)
        sync = asyncio.create_task(manager.sync("m"))
        await asyncio.sleep(0.2)
        assert not sync.done()  # waits for the lease
        assert manager.statuses("m")[0].state is VersionState.UNLOADING
        assert manager.leases("m") == {1: 1, 2: 0}
        with pytest.raises(NotFound, match="has no version 1"):
            manager.table.lease("m", "1")
        with lease:
            pass
        await asyncio.wait_for(sync, 5)
        assert loaded(manager) == [2]
        await manager.close()

    asyncio.run(scenario())


def test_releases_switch_at_once_and_keep_pinned_revisions_for_the_grace(
    tmp_path: Path, pools
) -> None:
    repo = Repository(tmp_path)
    for name in ("emb", "rank"):
        publish_tiny(repo, name, 1.0)
        publish_tiny(repo, name, 2.0)
        repo.set_alias(name, "stable", AliasTarget(version=2))

    def served(manager: ModelManager, name: str, revision: str | None = None) -> tuple[int, int]:
        with manager.table.lease(name, None, release="r", revision=revision) as version:
            lease_revision = manager.table.releases.resolve("r", revision, name)[1]
            return version.version, lease_revision

    async def scenario() -> None:
        manager = ModelManager(repo, ServingTable(), Recorder(pools), pools[0], 2.0)
        switch = ReleaseSwitch(manager, grace=0.3)
        first = repo.releases.set("r", {"emb": 1, "rank": 1})
        await switch.sync()
        for name in ("emb", "rank"):
            await manager.sync(name)
        assert loaded(manager, "emb") == [1, 2]  # the release pins 1, stable is 2
        assert served(manager, "emb") == (1, first.revision)
        second = repo.releases.set("r", {"emb": 2, "rank": 2})
        await switch.sync()
        assert served(manager, "rank") == (2, second.revision)
        assert served(manager, "rank", str(first.revision)) == (1, first.revision)
        await eventually(lambda: loaded(manager, "emb") == [2])  # the grace ends: v1 goes
        with pytest.raises(Conflict, match=f"revision {first.revision} is no longer served"):
            manager.table.lease("rank", None, release="r", revision=str(first.revision))
        with pytest.raises(InvalidInput, match="name a release or a version"):
            manager.table.lease("emb", "1", release="r")
        with pytest.raises(NotFound, match="no release 'x'"):
            manager.table.lease("emb", None, release="x")
        await switch.close()
        await manager.close()

    asyncio.run(scenario())


def test_a_release_whose_version_cannot_load_keeps_its_old_revision(tmp_path: Path, pools):
    repo = Repository(tmp_path)
    publish_tiny(repo, "m", 1.0)
    broken = publish_tiny(repo, "m", 2.0)
    repo.set_config("m", ModelConfig(VersionPolicy(latest=None, specific=(1,))))
    artifact = repo.artifact_path("m", broken.version)

    async def scenario() -> None:
        manager = ModelManager(repo, ServingTable(), Recorder(pools), pools[0], 2.0)
        switch = ReleaseSwitch(manager, grace=0)
        repo.releases.set("r", {"m": 1})
        await switch.sync()
        artifact.write_bytes(artifact.read_bytes() + b"!")
        repo.releases.set("r", {"m": 2})  # behind the gateway's back, as the CLI does
        await switch.sync()
        with manager.table.lease("m", None, release="r") as served:
            assert served.version == 1
        assert "version 2 failed to load" in manager.table.releases.problems["r"]
        repo.releases.delete("r")
        await switch.sync()
        with pytest.raises(NotFound, match="no release 'r'"):
            manager.table.lease("m", None, release="r")
        await switch.close()
        await manager.close()

    asyncio.run(scenario())


def test_unknown_release_problem_is_503(tmp_path: Path, pools) -> None:
    repo = Repository(tmp_path)
    broken = publish_tiny(repo, "m", 1.0)
    artifact = repo.artifact_path("m", broken.version)
    artifact.write_bytes(artifact.read_bytes() + b"!")

    async def scenario() -> None:
        manager = ModelManager(repo, ServingTable(), Recorder(pools), pools[0], 2.0)
        switch = ReleaseSwitch(manager, grace=10.0)
        repo.releases.set("r", {"m": 1})
        await switch.sync()
        await manager.sync("m")
        with pytest.raises(Unavailable, match="release 'r' cannot be served"):
            manager.table.lease("m", None, release="r")
        await switch.close()
        await manager.close()

    asyncio.run(scenario())
