"""`modelport serve --workers 2`: two processes on one port, each seeing the other's writes."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from model_repo.repository import Repository
from tests.artifacts import publish_tiny, write_tiny_onnx
from tests.integration.servers import running_server

pytestmark = pytest.mark.xdist_group("gateway-workers")
BODY = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0]}]}


def fresh_post(url: str) -> httpx.Response:
    """A request on a new connection, so the kernel may hand it to either worker."""
    return httpx.post(url, json=BODY, headers={"Connection": "close"}, timeout=10)


def wait_for_lines(log: Path, text: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while log.read_text().count(text) < count:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def test_an_upload_through_one_worker_is_served_by_both(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    publish_tiny(Repository(root), "first", offset=1.0)
    log = tmp_path / "server.log"
    with running_server(root, log, "--workers", "2", "--poll-interval", "0.2") as server:
        wait_for_lines(log, "Application startup complete", 2)  # ready is one worker's word
        assert fresh_post(server.url + "/v2/models/first/infer").status_code == 200
        write_tiny_onnx(tmp_path / "second.onnx", 5.0)
        with (tmp_path / "second.onnx").open("rb") as handle:
            response = httpx.post(
                server.url + "/v2/repository/models/second/versions",
                files={"file": ("second.onnx", handle)},
                headers=server.admin,
                timeout=60,
            )
        assert response.status_code == 201, response.text
        wait_for_lines(log, "second version 1 loaded", 2)  # one line per worker
        answers = [fresh_post(server.url + "/v2/models/second/infer") for _ in range(30)]
        assert {a.status_code for a in answers} == {200}
        assert {tuple(a.json()["outputs"][0]["data"]) for a in answers} == {(6.0, 7.0)}
        alias = httpx.put(
            server.url + "/v2/repository/models/second/aliases/stable",
            json={"version": 1},
            headers=server.admin,
        )
        assert alias.status_code == 200, alias.text
        with (tmp_path / "second.onnx").open("rb") as handle:
            newer = httpx.post(
                server.url + "/v2/repository/models/second/versions",
                files={"file": ("second.onnx", handle)},
                headers=server.admin,
                timeout=60,
            )
        assert newer.status_code == 201, newer.text
        wait_for_lines(log, "second version 2 loaded", 2)
        # Both workers know the alias: requests without a version stay on version 1.
        served = {fresh_post(server.url + "/v2/models/second/infer").json()["model_version"]
                  for _ in range(30)}  # fmt: skip
        assert served == {"1"}
