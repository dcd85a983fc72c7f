"""Scaling out: `modelport serve --repo s3://...` replicas on one S3 repository (moto's S3
server on loopback, tests/s3.py), each with its own cache as on its own machine. They follow
every change (a new version, an alias, a release) and a request naming a release revision a
replica has not polled yet makes it re-read the repository first."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from gateway.app import create_app
from gateway.config import ServerConfig
from gateway.server import config_from_json, config_to_json
from model_repo.aliases import AliasTarget
from model_repo.repository import Repository
from tests.artifacts import publish_tiny, write_tiny_onnx
from tests.integration.servers import Server, free_port, running_server

pytestmark = pytest.mark.xdist_group("gateway-s3")
BODY = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0]}]}


@contextlib.contextmanager
def replica(root: str, tmp_path: Path, label: str, *args: str) -> Iterator[Server]:
    cache = {"MODELPORT_CACHE_DIR": str(tmp_path / f"cache-{label}")}
    with running_server(root, tmp_path / f"{label}.log", *args, env=cache) as server:  # type: ignore[arg-type]
        yield server


def infer(server: Server, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(server.url + "/v2/models/m/infer", json=BODY, headers=headers, timeout=30)


def answer(server: Server, headers: dict[str, str] | None = None) -> tuple[str, list[float]]:
    response = infer(server, headers)
    assert response.status_code == 200, response.text
    body = response.json()
    return body["model_version"], body["outputs"][0]["data"]


def converge(servers: list[Server], wanted: Callable[[Server], bool], timeout: float = 60) -> float:
    """Seconds until every server answers as `wanted` (polled every 20 ms)."""
    started = time.monotonic()
    pending = list(servers)
    while pending:
        pending = [s for s in pending if not wanted(s)]
        assert time.monotonic() - started < timeout, [s.log_text() for s in pending]
        if pending:
            time.sleep(0.02)
    return time.monotonic() - started


def test_serving_an_s3_repository_follows_versions_and_aliases(
    s3_root: str, tmp_path: Path
) -> None:
    repo = Repository(s3_root)
    publish_tiny(repo, "m", offset=1.0)
    with replica(s3_root, tmp_path, "one", "--poll-interval", "0.2") as server:
        assert server.log_text().count(f"modelport serving {s3_root}") == 1
        assert answer(server) == ("1", [2.0, 3.0])
        publish_tiny(repo, "m", offset=2.0)  # by another machine: the converters' own publish
        converge([server], lambda s: answer(s) == ("2", [3.0, 4.0]))
        repo.set_alias("m", "stable", AliasTarget(version=1))
        converge([server], lambda s: answer(s)[0] == "1")
        index = httpx.post(server.url + "/v2/repository/index", timeout=30).json()
        assert {(e["version"], e["state"]) for e in index} >= {("1", "READY"), ("2", "READY")}


def test_two_replicas_converge_on_every_change(s3_root: str, tmp_path: Path) -> None:
    repo = Repository(s3_root)
    publish_tiny(repo, "m", offset=1.0)
    figures: dict[str, float] = {}
    with replica(s3_root, tmp_path, "a") as a, replica(s3_root, tmp_path, "b") as b:
        both = [a, b]
        assert converge(both, lambda s: answer(s)[0] == "1") < 1
        write_tiny_onnx(tmp_path / "v2.onnx", 2.0)
        started = time.monotonic()
        with (tmp_path / "v2.onnx").open("rb") as handle:
            uploaded = httpx.post(
                a.url + "/v2/repository/models/m/versions",
                files={"file": ("model.onnx", handle)},
                headers=a.admin,
                timeout=60,
            )
        assert uploaded.status_code == 201, uploaded.text
        converge(both, lambda s: answer(s) == ("2", [3.0, 4.0]))
        figures["upload"] = time.monotonic() - started
        started = time.monotonic()
        switched = httpx.put(
            a.url + "/v2/repository/models/m/aliases/stable",
            json={"version": 1},
            headers=a.admin,
            timeout=60,
        )
        assert switched.status_code == 200, switched.text
        converge(both, lambda s: answer(s)[0] == "1")
        figures["alias"] = time.monotonic() - started
        started = time.monotonic()
        released = httpx.put(
            a.url + "/v2/repository/releases/r",
            json={"models": {"m": 2}},
            headers=a.admin,
            timeout=60,
        )
        assert released.status_code == 200, released.text
        pin = {"X-Modelport-Release": "r"}

        def on_release(server: Server) -> bool:
            response = infer(server, pin)
            return response.status_code == 200 and response.json()["model_version"] == "2"

        converge(both, on_release)
        figures["release"] = time.monotonic() - started
    print("\nS3 replicas (poll 1 s), write to both answering: " + ", ".join(
        f"{k} {v:.2f} s" for k, v in figures.items()
    ))  # fmt: skip
    assert all(seconds < 10 for seconds in figures.values()), figures


def test_a_revision_switched_on_another_replica_is_read_before_refusing(
    s3_root: str, tmp_path: Path
) -> None:
    repo = Repository(s3_root)
    publish_tiny(repo, "m", offset=1.0)
    publish_tiny(repo, "m", offset=2.0)
    first = repo.releases.set("r", {"m": 1})
    # b never polls: only a request can make it read the repository again.
    with (
        replica(s3_root, tmp_path, "a") as a,
        replica(s3_root, tmp_path, "b", "--poll-interval", "0") as b,
    ):
        released = httpx.put(
            a.url + "/v2/repository/releases/r", json={"models": {"m": 2}}, headers=a.admin
        )
        assert released.status_code == 200, released.text
        newer = released.json()["revision"]
        assert newer > first.revision
        assert answer(b, {"X-Modelport-Release": "r"})[0] == "1"  # b has not seen it yet
        pinned = {"X-Modelport-Release": "r", "X-Modelport-Release-Revision": str(newer)}
        response = infer(b, pinned)
        assert response.status_code == 200, response.text  # re-read, loaded, served
        assert response.json()["model_version"] == "2"
        assert response.headers["X-Modelport-Release-Revision"] == str(newer)
        assert answer(b, {"X-Modelport-Release": "r"})[0] == "2"  # b has switched
        old = {"X-Modelport-Release": "r", "X-Modelport-Release-Revision": str(first.revision)}
        assert answer(b, old)[0] == "1"  # the replaced revision, within its grace
        ahead = {"X-Modelport-Release": "r", "X-Modelport-Release-Revision": str(newer + 7)}
        refused = infer(b, ahead)
        assert refused.status_code == 409, refused.text
        assert f"has no revision {newer + 7}" in refused.json()["error"]


def test_an_app_built_from_python_serves_an_s3_repository(s3_root: str) -> None:
    """What a deployment that builds the app itself does (Ray Serve, a custom ASGI host):
    `repo_root` is the URL as text, also through the JSON the worker processes get."""
    publish_tiny(Repository(s3_root), "m", offset=1.0)
    config = ServerConfig(repo_root=s3_root, admin_token="admin", poll_interval=0.2)
    assert config_from_json(config_to_json(config)).repo_root == s3_root
    port = free_port()
    settings = uvicorn.Config(create_app(config), "127.0.0.1", port, log_config=None, ws="none")
    server = uvicorn.Server(settings)
    thread = threading.Thread(target=server.run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        url = f"http://127.0.0.1:{port}/v2/models/m/infer"
        body = httpx.post(url, json=BODY, timeout=30).json()
        assert (body["model_version"], body["outputs"][0]["data"]) == ("1", [2.0, 3.0])
    finally:
        server.should_exit = True
        thread.join(30)
