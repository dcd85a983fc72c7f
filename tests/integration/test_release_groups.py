"""A release group of two models switched three times under load (over the API and the CLI).

The property (README, "Release groups"): every response to a release request names the
revision that served it and comes from that revision's version of its model; a call that
sends the revision of an earlier call back is served at exactly that revision. So a client
doing embedder-then-ranker with the revision pinned never mixes versions. The unpinned
control pipelines show what happens without the pin.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from model_repo.repository import Repository
from tests.artifacts import publish_tiny
from tests.integration.load import Call, Clients, post, v2_body
from tests.integration.servers import MODELPORT, ROOT, Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-releases")
RELEASE = {"X-Modelport-Release": "search"}
REVISION = "x-modelport-release-revision"
PIN = "X-Modelport-Release-Revision"


@dataclass(frozen=True)
class Pipeline:
    embed: Call
    rank: Call


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("releases") / "repo"
    repo = Repository(root)
    for offset in (1.0, 2.0, 3.0):
        publish_tiny(repo, "emb", offset)
        publish_tiny(repo, "rank", 10 * offset)
    repo.releases.set("search", {"emb": 1, "rank": 1})
    log = tmp_path_factory.mktemp("releases-log") / "server.log"
    with running_server(root, log) as running:
        yield running


def pipeline(http: httpx.Client, pin: bool) -> list[Pipeline]:
    embed = post(http, "/v2/models/emb/infer", v2_body(1), RELEASE)
    headers = {**RELEASE, PIN: embed.headers.get(REVISION, "")}
    rank = post(http, "/v2/models/rank/infer", v2_body(1), headers if pin else RELEASE)
    return [Pipeline(embed, rank)]


def test_no_pipeline_mixes_versions_while_the_release_switches(
    server: Server, admin: httpx.Client
) -> None:
    revisions = {1: {"emb": 1, "rank": 1}}
    with (
        Clients(server.url, 4, lambda http: pipeline(http, pin=True)) as pinned,
        Clients(server.url, 1, lambda http: pipeline(http, pin=False)) as unpinned,
    ):
        time.sleep(2)
        revisions.update(switch_over_http(admin, {"emb": 2, "rank": 2}))
        time.sleep(2.5)
        revisions.update(switch_with_the_cli(server, "emb=3", "rank=3"))
        time.sleep(2.5)
        revisions.update(switch_over_http(admin, {"emb": 1, "rank": 1}))
        time.sleep(2)
    assert admin.get("/v2/repository/releases/search").json()["serving_revision"] == 4
    # Within the grace period a replaced revision still serves the calls that pin it ...
    stale = post(admin, "/v2/models/rank/infer", v2_body(1), {**RELEASE, PIN: "3"})
    assert (stale.status, stale.version, stale.headers[REVISION]) == (200, "3", "3")
    # ... and a revision that is not served is refused, never answered from another (one
    # newer than any served is looked for in the repository first: another replica's?).
    gone = post(admin, "/v2/models/rank/infer", v2_body(1), {**RELEASE, PIN: "99"})
    assert gone.status == 409 and "has no revision 99 (it is at revision 4" in gone.text

    calls = [c for p in pinned.calls + unpinned.calls for c in (p.embed, p.rank)]
    failed = [c for c in calls if c.status != 200]
    assert failed == [], failed[:3]
    for pipe in pinned.calls + unpinned.calls:  # each response: its revision's version
        for call, model in ((pipe.embed, "emb"), (pipe.rank, "rank")):
            assert call.version == str(revisions[int(call.headers[REVISION])][model]), call
    served = per_revision(pinned.calls)
    for pipe in pinned.calls:  # each pinned pipeline: one revision, so one release's versions
        assert pipe.embed.headers[REVISION] == pipe.rank.headers[REVISION]
    assert set(served) == {1, 2, 3, 4}, served  # every switch took effect under load
    mixed = sum(p.embed.headers[REVISION] != p.rank.headers[REVISION] for p in unpinned.calls)
    print(
        f"\nrelease switched 3 times under load: {len(pinned.calls)} pinned pipelines, "
        f"by revision {served}, none mixed; unpinned control: {len(unpinned.calls)} "
        f"pipelines, {mixed} mixed"
    )


def per_revision(pipelines: list[Pipeline]) -> dict[int, int]:
    found: dict[int, int] = {}
    for pipe in pipelines:
        revision = int(pipe.embed.headers[REVISION])
        found[revision] = found.get(revision, 0) + 1
    return found


def switch_over_http(admin: httpx.Client, models: dict[str, int]) -> dict[int, dict[str, int]]:
    response = admin.put("/v2/repository/releases/search", json={"models": models})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["serving_revision"] == body["revision"] and body["models"] == models
    return {body["revision"]: models}


def switch_with_the_cli(server: Server, *pins: str) -> dict[int, dict[str, int]]:
    """`modelport releases set` writes the repository; the gateway's poll switches."""
    command = [*MODELPORT, "releases", "set", "search", *pins, "--repo", str(server.repo)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    release = json.loads(done.stdout)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = httpx.get(server.url + "/v2/repository/releases/search").json()
        if found["serving_revision"] == release["revision"]:
            return {release["revision"]: release["models"]}
        time.sleep(0.05)
    raise AssertionError(f"the gateway did not switch to {release}: {found}")
