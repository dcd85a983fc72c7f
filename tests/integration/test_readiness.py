"""Server readiness through a real server: not ready while it holds models and none of them
can serve (a load balancer must not send it traffic), ready once one can."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from model_repo.repository import Repository
from tests.artifacts import publish_tiny, write_tiny_onnx
from tests.integration.servers import running_server

pytestmark = pytest.mark.xdist_group("gateway-readiness")


def test_not_ready_while_no_model_can_serve_ready_once_one_can(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    broken = publish_tiny(repo, "m")
    artifact = repo.artifact_path("m", broken.version)
    artifact.write_bytes(artifact.read_bytes() + b"!")
    with running_server(repo.root, tmp_path / "server.log", "--poll-interval", "0") as server:
        assert httpx.get(server.url + "/v2/health/live").status_code == 200
        ready = httpx.get(server.url + "/v2/health/ready")
        assert ready.status_code == 503, ready.text
        assert "no model can serve" in ready.json()["error"]
        assert "index says why" in ready.json()["error"]
        index = httpx.post(server.url + "/v2/repository/index").json()
        assert index[0]["state"] == "FAILED" and "sha256" in index[0]["reason"]
        good = tmp_path / "good.onnx"
        write_tiny_onnx(good)
        with good.open("rb") as handle:
            uploaded = httpx.post(
                server.url + "/v2/repository/models/m/versions",
                files={"file": ("good.onnx", handle)},
                headers=server.admin,
            )
        assert uploaded.status_code == 201, uploaded.text
        ready = httpx.get(server.url + "/v2/health/ready")
        assert ready.status_code == 200 and ready.json() == {"ready": True}


def test_an_empty_repository_is_ready(tmp_path: Path) -> None:
    with running_server(tmp_path / "empty", tmp_path / "server.log") as server:
        assert httpx.get(server.url + "/v2/health/ready").status_code == 200
