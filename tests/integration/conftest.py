from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.models import Sources, seed_repository, train_sources
from tests.integration.peer_repo import PeerModels, build_peer_repo
from tests.integration.servers import Server, running_server


@pytest.fixture(scope="session")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Sources:
    return train_sources(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="session")
def seeded_repo(tmp_path_factory: pytest.TempPathFactory, sources: Sources) -> Path:
    root = tmp_path_factory.mktemp("seeded") / "repo"
    seed_repository(root, sources)
    return root


@pytest.fixture(scope="session")
def repo_copy(tmp_path_factory: pytest.TempPathFactory, seeded_repo: Path) -> Callable[[str], Path]:
    """A private copy of the seeded repository, so a server may change it freely."""

    def copy(label: str) -> Path:
        target = tmp_path_factory.mktemp(label) / "repo"
        shutil.copytree(seeded_repo, target)
        return target

    return copy


@pytest.fixture
def admin(server: Server) -> Iterator[httpx.Client]:
    """An admin client of the module's `server` fixture."""
    with httpx.Client(base_url=server.url, headers=server.admin, timeout=120) as client:
        yield client


@pytest.fixture(scope="session")
def peer_models(tmp_path_factory: pytest.TempPathFactory, sources: Sources) -> PeerModels:
    return build_peer_repo(tmp_path_factory.mktemp("peer"), sources)


@pytest.fixture(scope="session")
def peer(tmp_path_factory: pytest.TempPathFactory, peer_models: PeerModels) -> Iterator[Server]:
    """A server of the TF Serving replay's repository (tests in group gateway-tfserving-peer)."""
    log = tmp_path_factory.mktemp("peer-log") / "server.log"
    with running_server(peer_models.root, log) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[Any]:
    """A tritonclient.grpc client of the module's `server` (started with grpc=True)."""
    import tritonclient.grpc as triton

    found = triton.InferenceServerClient(server.grpc_target)
    yield found
    found.close()


@pytest.fixture(scope="module")
def stub(server: Server) -> Iterator[Any]:
    """A raw GRPCInferenceService stub of the module's `server`, for what tritonclient hides."""
    import grpc
    from tritonclient.grpc import service_pb2_grpc

    with grpc.insecure_channel(server.grpc_target) as channel:
        yield service_pb2_grpc.GRPCInferenceServiceStub(channel)
