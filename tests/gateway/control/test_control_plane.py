"""The manager's edges on a real repository of tiny ONNX models: a warm-up that must not stall
the event loop, a request that outlives its version's drain, sessions that must be closed
whatever fails, one broken model that must not hold back another's release, reads that must
not queue behind the admin thread, and refusals that must come before any work."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from gateway.control.control_plane import ControlPlane
from gateway.control.loader import version_loader
from gateway.control.manager import ModelManager
from gateway.control.release_switch import ReleaseSwitch
from gateway.control.reloader import Reloader
from gateway.control.uploads import UploadPolicy
from gateway.errors import Conflict, InvalidInput, NotFound, Unavailable
from gateway.metrics import GatewayMetrics, VersionStats
from gateway.serving.dataplane import DataPlane
from gateway.serving.inference import InferenceRequest
from gateway.serving.live_runtimes import LiveRuntimes, ServingRuntime
from gateway.serving.routing_table import ServingTable
from gateway.serving.runtime import PredictorRuntime
from gateway.serving.tensors import RequestTensor
from gateway.serving.versions import ServedVersion
from model_repo.formats import Predictor, Tensors
from model_repo.manifest import Manifest
from model_repo.repository import Repository
from model_repo.signature import Signature
from tests.artifacts import publish_tiny
from tests.gateway.conftest import Pools

X = np.array([[1.0, 2.0]], dtype=np.float32)


class Recorded:
    """A predictor that records its close; its first call takes `first_call` seconds."""

    def __init__(
        self, signature: Signature, inner: Predictor | None = None, first_call: float = 0.0
    ) -> None:
        self.signature = signature
        self.inner = inner
        self.first_call = first_call
        self.calls = 0
        self.closed = False

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors:
        self.calls += 1
        if self.calls == 1:
            time.sleep(self.first_call)  # lazy initialisation, as a TensorFlow trace
        if self.inner is not None:
            return self.inner.predict(inputs)
        return {"y": np.asarray(inputs["x"]) + 1}

    def close(self) -> None:
        self.closed = True
        if self.inner is not None:
            self.inner.close()


class RecordingRepository(Repository):
    """Every predictor the loader opens, wrapped so that its close is seen."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.opened: list[Recorded] = []

    def open(
        self, name: str, version: int, options: Mapping[str, Any] | None = None
    ) -> tuple[Manifest, Predictor]:
        manifest, predictor = super().open(name, version, options)
        recorded = Recorded(manifest.signature, predictor)
        self.opened.append(recorded)
        return manifest, recorded


def plane_on(
    repo: Repository, pools: Pools, drain: float = 30.0, runtimes: LiveRuntimes | None = None
) -> ControlPlane:
    """A control plane (`.manager`, `.switch`, `.data`) serving `repo` with the real loader,
    wired as the app wires it, the poll off."""
    metrics = GatewayMetrics()
    loader = version_loader(metrics, pools[1], runtimes)
    manager = ModelManager(repo, ServingTable(), loader, pools[0], drain)
    switch = ReleaseSwitch(manager, grace=10.0)
    data = DataPlane(manager.table, metrics, "test")
    return ControlPlane(data, manager, switch, Reloader(manager, switch, 0), UploadPolicy())


def test_startup_syncs_each_model_once_then_says_ready(tmp_path: Path, pools: Pools) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "a")
    publish_tiny(repo, "b")
    repo.releases.set("r", {"a": 1})
    control = plane_on(repo, pools)
    manager = control.manager
    synced: list[str] = []
    real_sync = manager.sync

    async def counted_sync(name: str) -> Any:
        synced.append(name)
        return await real_sync(name)

    manager.sync = counted_sync  # type: ignore[method-assign]

    async def scenario() -> None:
        assert not control.data.ready()
        await control.start()
        assert control.data.ready()
        # The release switch syncs a (its release pins it), the pass over every model b only.
        assert synced == ["a", "b"]
        with manager.table.lease("a", None, release="r") as served:
            assert served.version == 1
        await control.stop()
        assert not control.data.ready()

    asyncio.run(scenario())


def test_the_warm_up_runs_off_the_event_loop(tmp_path: Path, pools: Pools) -> None:
    """A one-row warm-up is small enough to run inline: its slow first call must not."""
    repo = Repository(tmp_path)
    manifest = publish_tiny(repo, "m")
    predictor = Recorded(manifest.signature, first_call=0.6)

    def load(repo: Repository, name: str, version: int) -> ServedVersion:
        base = PredictorRuntime(predictor, pools[1], inline_max_elements=1024)
        runtime = ServingRuntime(base, name, version, None)
        return ServedVersion(repo.manifest(name, version), runtime, "onnx_onnxv1", VersionStats())

    async def scenario() -> float:
        manager = ModelManager(repo, ServingTable(), load, pools[0])
        loop = asyncio.get_running_loop()
        gaps: list[float] = []

        async def tick() -> None:
            while True:
                started = loop.time()
                await asyncio.sleep(0.01)
                gaps.append(loop.time() - started)

        ticker = asyncio.create_task(tick())
        await manager.sync("m")
        ticker.cancel()
        await manager.close()
        return max(gaps)

    longest = asyncio.run(scenario())
    assert predictor.calls == 1  # warmed up
    assert longest < 0.3, f"the event loop stalled for {longest:.2f} s during the warm-up"


def test_a_request_that_outlives_the_drain_gets_503_and_its_runtime_leaves(
    tmp_path: Path, pools: Pools
) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "m")
    runtimes = LiveRuntimes()
    control = plane_on(repo, pools, 0.1, runtimes)
    manager = control.manager
    request = InferenceRequest([RequestTensor("x", X, "FP32")])

    async def scenario() -> None:
        await manager.sync("m")
        assert [r.version for r in runtimes.all()] == [1]
        with manager.table.lease("m", None) as served:
            await manager.unload("m")  # gives up waiting after 0.1 s and closes it
            assert served.closed
            assert runtimes.all() == []  # no batching metrics, no reconfiguration for it
            with pytest.raises(Unavailable, match="version 1 was unloaded while this request"):
                await control.data.infer(served, request)
        await control.stop()

    asyncio.run(scenario())


def test_a_predictor_opened_for_a_version_that_cannot_be_served_is_closed(
    tmp_path: Path, pools: Pools
) -> None:
    repo = RecordingRepository(tmp_path)
    publish_tiny(repo, "m")

    class BrokenMetrics(GatewayMetrics):
        def version_stats(self, model: str, version: int) -> VersionStats:
            raise RuntimeError("no stats today")

    load = version_loader(BrokenMetrics(), pools[1])
    with pytest.raises(RuntimeError, match="no stats today"):
        load(repo, "m", 1)
    assert [p.closed for p in repo.opened] == [True]


def test_close_unloads_everything_even_when_the_repository_cannot_be_read(
    tmp_path: Path, pools: Pools
) -> None:
    repo = RecordingRepository(tmp_path)
    publish_tiny(repo, "m")
    manager = plane_on(repo, pools).manager

    async def scenario() -> None:
        await manager.sync("m")
        (tmp_path / "m" / "aliases.json").write_text("{broken")
        await manager.close()

    asyncio.run(scenario())
    assert [p.closed for p in repo.opened] == [True]
    assert manager.models() == []


def test_a_model_that_cannot_sync_rejects_its_own_release_not_the_others(
    tmp_path: Path, pools: Pools
) -> None:
    repo = Repository(tmp_path)
    for name in ("a", "b"):
        publish_tiny(repo, name, 1.0)
        publish_tiny(repo, name, 2.0)
    control = plane_on(repo, pools)
    manager = control.manager
    config = tmp_path / "b" / "config.json"

    async def scenario() -> None:
        for name in ("a", "b"):
            await manager.sync(name)
        config.write_text('{"preserve": "sometimes"}')
        repo.releases.set("ra", {"a": 1})
        repo.releases.set("rb", {"b": 1})
        await control.switch.sync()
        with manager.table.lease("a", None, release="ra") as served:
            assert served.version == 1
        assert "ra" not in manager.table.releases.problems
        problem = manager.table.releases.problems["rb"]
        assert "model 'b' cannot be served" in problem and str(config) in problem
        with pytest.raises(Unavailable, match="release 'rb' cannot be served"):
            manager.table.lease("b", None, release="rb")
        with manager.table.lease("b", None) as served:  # b keeps serving what it served
            assert served.version == 2
        await control.stop()

    asyncio.run(scenario())


def test_repository_reads_do_not_wait_behind_the_admin_thread(tmp_path: Path, pools: Pools) -> None:
    """The admin thread may be converting an upload for minutes: the index still answers."""
    repo = Repository(tmp_path)
    publish_tiny(repo, "m")
    control = plane_on(repo, pools)
    manager = control.manager
    conversion_done = threading.Event()

    async def scenario() -> None:
        await manager.sync("m")
        busy = asyncio.get_running_loop().run_in_executor(pools[0], conversion_done.wait, 30)
        try:
            statuses = await asyncio.wait_for(control.index(), 5)
            assert [(s.name, s.version) for s in statuses] == [("m", 1)]
            assert (await asyncio.wait_for(control.config("m"), 5)).preserve.value
            assert await asyncio.wait_for(control.releases(), 5) == []
        finally:
            conversion_done.set()
            await busy
        await control.stop()

    asyncio.run(scenario())


def test_an_alias_switch_refused_up_front_loads_nothing(tmp_path: Path, pools: Pools) -> None:
    repo = RecordingRepository(tmp_path)
    publish_tiny(repo, "m", 1.0)
    publish_tiny(repo, "m", 2.0)
    control = plane_on(repo, pools)
    manager = control.manager

    async def scenario() -> None:
        await manager.sync("m")  # latest 1: version 2 only
        with pytest.raises(InvalidInput, match="alias 'no way' is not valid"):
            await control.set_alias("m", "no way", {"version": 1})
        assert len(repo.opened) == 1  # version 1 was not loaded for nothing
        with pytest.raises(NotFound, match="unknown model 'ghost'"):
            await control.set_alias("ghost", "stable", {"version": 1})
        assert manager._held == {}  # nothing held on, not even for a name nobody serves
        await manager.unload("m")
        with pytest.raises(Conflict, match="model 'm' is unloaded; load it"):
            await control.set_alias("m", "stable", {"version": 2})
        assert repo.aliases("m") == {}
        await control.stop()

    asyncio.run(scenario())


def test_an_unloaded_model_says_so_to_release_requests_too(tmp_path: Path, pools: Pools) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "m")
    repo.releases.set("r", {"m": 1})
    control = plane_on(repo, pools)
    manager = control.manager

    async def scenario() -> None:
        await control.switch.sync()
        await manager.sync("m")
        with manager.table.lease("m", None, release="r") as served:
            assert served.version == 1
        await manager.unload("m")
        for release in (None, "r"):
            with pytest.raises(NotFound, match="model 'm' is unloaded; load it"):
                manager.table.lease("m", None, release=release)
        await control.stop()

    asyncio.run(scenario())


def test_a_model_whose_config_is_corrupt_can_still_be_unloaded(
    tmp_path: Path, pools: Pools
) -> None:
    repo = RecordingRepository(tmp_path)
    publish_tiny(repo, "m")
    manager = plane_on(repo, pools).manager
    config = tmp_path / "m" / "config.json"

    async def scenario() -> None:
        await manager.sync("m")
        config.write_text("[]")
        with pytest.raises(Unavailable, match="config"):
            await manager.sync("m")  # reported; what was loaded keeps serving
        with manager.table.lease("m", None) as served:
            assert served.version == 1
        await manager.unload("m")  # asks nothing of the repository
        assert [p.closed for p in repo.opened] == [True]
        states = [(s.version, s.state.value) for s in manager.statuses("m")]
        assert states == [(None, "FAILED")]  # the reason the config cannot be read
        with pytest.raises(NotFound, match="is unloaded"):
            manager.table.lease("m", None)
        await manager.close()

    asyncio.run(scenario())


def test_a_version_retired_by_a_cancelled_sync_is_still_closed(
    tmp_path: Path, pools: Pools
) -> None:
    """A sync is cancelled mid-drain when the server stops (a release expiry, the poll)."""
    repo = RecordingRepository(tmp_path)
    publish_tiny(repo, "m", 1.0)
    manager = plane_on(repo, pools).manager

    async def scenario() -> None:
        await manager.sync("m")
        with manager.table.lease("m", None) as old:
            publish_tiny(repo, "m", 2.0)
            switch = asyncio.create_task(manager.sync("m"))
            deadline = time.monotonic() + 10
            while not old.retired:  # v2 loaded, v1 draining behind our lease
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            switch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await switch
            assert old.closed
        await manager.close()

    asyncio.run(scenario())
    assert [p.closed for p in repo.opened] == [True, True]
