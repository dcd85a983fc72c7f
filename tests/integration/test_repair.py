"""Versions written by hand. One that fails to load, then is repaired (README, "A rollout"):
FAILED with its reason while the old version serves, an alias to it refused with the alias
kept, not retried by the poll, and loaded by `POST /v2/repository/models/{m}/load`. And with
the poll off (`--poll-interval 0`), a new version waits for `POST /v2/repository/reload`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from model_repo.aliases import AliasTarget
from model_repo.repository import Repository
from tests.artifacts import publish_tiny
from tests.integration.load import v2_body
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-repair")
POLL = 0.2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("repair") / "repo"
    repo = Repository(root)
    for offset in (1.0, 2.0):
        publish_tiny(repo, "m", offset)
    repo.set_alias("m", "pinned", AliasTarget(version=1))
    log = tmp_path_factory.mktemp("repair-log") / "server.log"
    with running_server(root, log, "--poll-interval", str(POLL)) as running:
        yield running


def entry(server: Server, version: str) -> dict[str, str]:
    index = httpx.post(server.url + "/v2/repository/index").json()
    found = [e for e in index if e["name"] == "m" and e.get("version") == version]
    return dict(found[0]) if found else {}


def served_by(server: Server) -> tuple[str, list[float]]:
    response = httpx.post(server.url + "/v2/models/m/infer", json=v2_body(1))
    assert response.status_code == 200, response.text
    body = response.json()
    return body["model_version"], body["outputs"][0]["data"]


def test_a_failed_version_is_reported_refused_and_loaded_once_repaired(
    server: Server, tmp_path: Path
) -> None:
    scratch = Repository(tmp_path / "scratch")
    for offset in (1.0, 2.0, 3.0):
        publish_tiny(scratch, "m", offset)
    artifact = scratch.artifact_path("m", 3)
    good = artifact.read_bytes()
    artifact.write_bytes(good + b"corrupt")
    shutil.copytree(tmp_path / "scratch" / "m" / "3", server.repo / "m" / "3")

    deadline = time.monotonic() + 10
    while entry(server, "3").get("state") != "FAILED":
        assert time.monotonic() < deadline, entry(server, "3")
        time.sleep(POLL)
    failed = entry(server, "3")
    assert "m version 3 was modified after publishing and is refused" in failed["reason"]
    assert "model.onnx does not match its sha256" in failed["reason"]
    assert served_by(server) == ("2", [3.0, 3.0])  # v2 (x + 2 on ones) keeps serving
    direct = httpx.post(server.url + "/v2/models/m/versions/3/infer", json=v2_body(1))
    assert direct.status_code == 503
    assert "model 'm' version 3 failed to load: m version 3 was modified" in direct.json()["error"]

    aliases = (server.repo / "m" / "aliases.json").read_text()
    refused = httpx.put(
        server.url + "/v2/repository/models/m/aliases/pinned",
        json={"version": 3},
        headers=server.admin,
    )
    assert refused.status_code == 409
    assert "version 3 failed to load" in refused.json()["error"]
    assert "nothing was changed" in refused.json()["error"]
    assert (server.repo / "m" / "aliases.json").read_text() == aliases
    assert json.loads(aliases)["pinned"] == {"version": 1}
    pinned = httpx.post(server.url + "/v2/models/m/versions/pinned/infer", json=v2_body(1))
    assert pinned.json()["model_version"] == "1"

    artifact_in_place = server.repo / "m" / "3" / artifact.name
    artifact_in_place.write_bytes(good)  # repaired by hand
    time.sleep(5 * POLL)
    assert entry(server, "3")["state"] == "FAILED", "the poll does not retry a failed version"
    assert served_by(server)[0] == "2"

    loaded = httpx.post(server.url + "/v2/repository/models/m/load", headers=server.admin)
    assert loaded.status_code == 200, loaded.text
    assert entry(server, "3") == {"name": "m", "version": "3", "state": "READY", "reason": ""}
    assert served_by(server) == ("3", [4.0, 4.0])  # the latest, now that it loads
    switched = httpx.put(
        server.url + "/v2/repository/models/m/aliases/pinned",
        json={"version": 3},
        headers=server.admin,
    )
    assert switched.status_code == 200, switched.text


def test_with_the_poll_off_a_change_waits_for_the_reload_endpoint(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    repo = Repository(root)
    publish_tiny(repo, "m", 1.0)
    with running_server(root, tmp_path / "server.log", "--poll-interval", "0") as server:
        assert served_by(server)[0] == "1"
        publish_tiny(repo, "m", 2.0)  # behind the gateway's back
        time.sleep(2.5)  # over twice the default poll interval
        assert served_by(server)[0] == "1", "--poll-interval 0 turns the poll off"
        assert entry(server, "2") == {}
        refused = httpx.post(server.url + "/v2/repository/reload")
        assert refused.status_code == 401
        reloaded = httpx.post(server.url + "/v2/repository/reload", headers=server.admin)
        assert reloaded.status_code == 200, reloaded.text
        states = {(e["name"], e.get("version")): e["state"] for e in reloaded.json()}
        assert states[("m", "2")] == "READY"  # the answer is the index after the reload
        assert served_by(server) == ("2", [3.0, 3.0])
