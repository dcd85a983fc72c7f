"""The control plane through a real server on tiny ONNX models: client mistakes that must
store nothing, corrupt stored files that must be named (not a 500) and reported in the
index while everything else keeps serving, and messages that name the problem."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from model_repo.repository import Repository
from tests.artifacts import publish_tiny, write_tiny_onnx
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-rest-control")
X = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0]}]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("rest-control") / "repo"
    repo = Repository(root)
    for name in ("m", "cfg", "aliased", "follow", "unreadable"):
        publish_tiny(repo, name, offset=1.0)
    # A model whose aliases cannot be read from the start: it is never served.
    (root / "unreadable" / "aliases.json").write_text("{not json")
    log = tmp_path_factory.mktemp("rest-control-log") / "server.log"
    with running_server(root, log, "--poll-interval", "0") as running:
        yield running


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def index(http: httpx.Client) -> list[dict[str, Any]]:
    response = http.post("/v2/repository/index")
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def entries_of(http: httpx.Client, name: str) -> list[dict[str, Any]]:
    return [e for e in index(http) if e["name"] == name]


def reload(http: httpx.Client, server: Server) -> None:
    response = http.post("/v2/repository/reload", headers=server.admin)
    assert response.status_code == 200, response.text


def served_version(http: httpx.Client, name: str) -> str:
    response = http.post(f"/v2/models/{name}/infer", json=X)
    assert response.status_code == 200, response.text
    version: str = response.json()["model_version"]
    return version


def test_an_upload_with_a_bad_alias_is_refused_before_anything_is_stored(
    server: Server, http: httpx.Client, tmp_path: Path
) -> None:
    artifact = tmp_path / "model.onnx"
    write_tiny_onnx(artifact, 5.0)
    for alias in ("not an alias!", "123"):
        response = http.post(
            "/v2/repository/models/m/versions",
            files={"file": ("model.onnx", artifact.read_bytes())},
            data={"alias": alias},
            headers=server.admin,
        )
        assert response.status_code == 400, response.text
        assert f"alias {alias!r} is not valid" in response.json()["error"]
    assert Repository(server.repo).versions("m") == [1]
    assert Repository(server.repo).aliases("m") == {}


def test_a_corrupt_config_is_named_reported_and_the_model_keeps_serving(
    server: Server, http: httpx.Client, tmp_path: Path
) -> None:
    config = server.repo / "cfg" / "config.json"
    config.write_text('{"version_policy": "sometimes"}')
    try:
        response = http.get("/v2/repository/models/cfg/config")
        assert response.status_code == 503, response.text
        assert str(config) in response.json()["error"]
        reload(http, server)
        entries = entries_of(http, "cfg")
        assert entries[0]["state"] == "FAILED" and str(config) in entries[0]["reason"]
        assert [(e.get("version"), e["state"]) for e in entries[1:]] == [("1", "READY")]
        assert served_version(http, "cfg") == "1"  # what was loaded keeps serving
        # The upload is stored and answered as such, though the model cannot follow it yet.
        artifact = tmp_path / "model.onnx"
        write_tiny_onnx(artifact, 2.0)
        response = http.post(
            "/v2/repository/models/cfg/versions",
            files={"file": ("model.onnx", artifact.read_bytes())},
            headers=server.admin,
        )
        assert response.status_code == 201, response.text
        assert response.json()["version"] == 2
        assert served_version(http, "cfg") == "1"
    finally:
        config.unlink()
    reload(http, server)
    assert [(e.get("version"), e["state"]) for e in entries_of(http, "cfg")] == [("2", "READY")]
    assert served_version(http, "cfg") == "2"


def test_a_corrupt_alias_file_refuses_alias_writes_with_its_name(
    server: Server, http: httpx.Client
) -> None:
    aliases = server.repo / "aliased" / "aliases.json"
    aliases.write_text("[1, 2]")
    try:
        response = http.put(
            "/v2/repository/models/aliased/aliases/stable",
            json={"version": 1},
            headers=server.admin,
        )
        assert response.status_code == 503, response.text
        assert str(aliases) in response.json()["error"]
        assert aliases.read_text() == "[1, 2]"
    finally:
        aliases.unlink()
    reload(http, server)
    assert served_version(http, "aliased") == "1"


def test_a_model_unreadable_from_the_start_is_failed_with_its_reason(
    server: Server, http: httpx.Client
) -> None:
    aliases = str(server.repo / "unreadable" / "aliases.json")
    [entry] = entries_of(http, "unreadable")
    assert entry["state"] == "FAILED" and aliases in entry["reason"]
    response = http.post("/v2/models/unreadable/infer", json=X)
    assert response.status_code == 503, response.text
    assert "model 'unreadable' cannot be served" in response.json()["error"]
    assert aliases in response.json()["error"]
    status = http.get("/v1/models/unreadable")
    assert status.status_code == 503 and aliases in status.json()["error"]
    metrics = http.get("/metrics").text
    assert 'modelport_model_version_state{model="unreadable",state="FAILED",version=""} 1.0' in (
        metrics
    )


def test_a_corrupt_release_file_does_not_stop_models_following_the_repository(
    server: Server, http: httpx.Client
) -> None:
    releases = server.repo / ".releases.json"
    releases.write_text("{")
    try:
        response = http.get("/v2/repository/releases")
        assert response.status_code == 503 and str(releases) in response.json()["error"]
        publish_tiny(Repository(server.repo), "follow", offset=2.0)
        reload(http, server)
        assert served_version(http, "follow") == "2"
        assert all(e["state"] == "READY" for e in entries_of(http, "follow"))
    finally:
        releases.unlink()


def test_a_release_revision_without_its_release_is_refused(http: httpx.Client) -> None:
    response = http.post(
        "/v2/models/m/infer", json=X, headers={"X-Modelport-Release-Revision": "3"}
    )
    assert response.status_code == 400, response.text
    assert "needs X-Modelport-Release" in response.json()["error"]
    response = http.post(
        "/v1/models/m:predict",
        json={"instances": [[1.0, 2.0]]},
        headers={"X-Modelport-Release-Revision": "3"},
    )
    assert response.status_code == 400, response.text


def test_a_wrong_method_names_itself_and_what_is_allowed(http: httpx.Client) -> None:
    response = http.get("/v2/repository/index")
    assert response.status_code == 405
    assert response.json() == {
        "error": "Method Not Allowed: GET /v2/repository/index (allowed: POST)"
    }
    assert response.headers["allow"] == "POST"


def test_a_tf_serving_label_that_is_a_number_is_refused(http: httpx.Client) -> None:
    for path in ("/v1/models/m/labels/1", "/v1/models/m/labels/1/metadata"):
        response = http.get(path)
        assert response.status_code == 400, response.text
        assert "use /versions/1 for a version" in response.json()["error"]
    response = http.post("/v1/models/m/labels/1:predict", json={"instances": [[1.0, 2.0]]})
    assert response.status_code == 400, response.text


def test_a_truncated_compressed_body_is_named_as_such(http: httpx.Client) -> None:
    whole = gzip.compress(json.dumps(X).encode())
    for path in ("/v2/models/m/infer", "/v2/repository/index"):
        response = http.post(path, content=whole[:-12], headers={"Content-Encoding": "gzip"})
        assert response.status_code == 400, response.text
        assert "the gzip body is truncated" in response.json()["error"]
    response = http.post("/v2/models/m/infer", content=whole, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
