"""Weighted splits, sticky keys and shadow traffic through a real server; bad alias, config,
release and reload requests refused with nothing changed.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from gateway.control.artifacts import import_artifact
from model_repo.aliases import AliasTarget, Shadow
from model_repo.repository import Repository
from tests.artifacts import publish_tiny
from tests.integration.load import metric, v2_body
from tests.integration.models import identity_onnx
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-splits")
SPLIT = AliasTarget(weights=((1, 90), (2, 10)))
SPLIT_REQUESTS = 10_000
SHADOW_REQUESTS = 300


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("splits") / "repo"
    repo = Repository(root)
    publish_tiny(repo, "ab", 1.0)
    publish_tiny(repo, "ab", 2.0)
    broken = publish_tiny(repo, "ab", 3.0)
    artifact = repo.artifact_path("ab", broken.version)
    artifact.write_bytes(artifact.read_bytes() + b"corrupt")
    repo.set_alias("ab", "stable", AliasTarget(version=1))
    repo.set_alias("ab", "canary", SPLIT)
    for offset in (1.0, 5.0, 1.0):  # sh: v1, v2 answers differently, v3 the same as v1
        publish_tiny(repo, "sh", offset)
    identity_onnx(root / "other.onnx", ["FP32"], [None, 2])  # v4 takes another input
    import_artifact(repo, root / "other.onnx", "sh", "onnx")
    (root / "other.onnx").unlink()
    for alias, shadow, percent in (("differs", 2, 100), ("same", 3, 50), ("fails", 4, 100)):
        repo.set_alias("sh", alias, AliasTarget(version=1, shadow=Shadow(shadow, percent)))
    log = tmp_path_factory.mktemp("splits-log") / "server.log"
    with running_server(root, log) as running:
        yield running


def infer(http: httpx.Client, path: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = http.post(path, json=v2_body(1), headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def canary(http: httpx.Client, key: str | None) -> str:
    path = "/v2/models/ab/versions/canary/infer"
    headers = None if key is None else {"X-Modelport-Key": key}
    version: str = infer(http, path, headers)["model_version"]
    return version


def split_shares(server: Server, keyed: bool) -> dict[str, float]:
    """Percent per version of SPLIT_REQUESTS canary requests from 4 clients."""

    def client(first: int) -> Counter[str]:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            keys = (f"u{i}" if keyed else None for i in range(first, SPLIT_REQUESTS, 4))
            return Counter(canary(http, key) for key in keys)

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        counts = sum(pool.map(client, range(4)), Counter[str]())
    elapsed = time.perf_counter() - started
    assert sum(counts.values()) == SPLIT_REQUESTS
    share = {v: 100 * n / SPLIT_REQUESTS for v, n in counts.items()}
    kind = "distinct keys" if keyed else "no key"
    print(f"\nsplit 90/10 over {SPLIT_REQUESTS} requests ({kind}) in {elapsed:.1f} s: {share}")
    return share


@pytest.mark.parametrize("keyed", [True, False], ids=["distinct-keys", "no-key"])
def test_a_split_lands_on_its_weights(server: Server, keyed: bool) -> None:
    share = split_shares(server, keyed)
    assert set(share) == {"1", "2"}, share
    assert abs(share["1"] - 90) <= 3 and abs(share["2"] - 10) <= 3, share


def test_a_sticky_key_always_gets_one_arm(server: Server) -> None:
    keys = [f"user-{n}" for n in range(40)]
    arms = {key: str(SPLIT.pick(key)) for key in keys}
    assert set(arms.values()) == {"1", "2"}  # the keys cover both arms, so both are checked
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for key in keys:
            seen = {canary(http, key) for _ in range(5)}
            assert seen == {arms[key]}, key  # one arm, the consistent hash's
        minority = next(key for key in keys if arms[key] == "2")  # 10%: no match by chance
        for _ in range(5):
            tf = http.post(
                "/v1/models/ab/labels/canary:predict",
                json={"instances": [[1.0, 2.0]]},
                headers={"X-Modelport-Key": minority},
            )
            assert tf.status_code == 200, tf.text
            assert tf.headers["X-Modelport-Model-Version"] == "2"  # the same arm on TF


def test_tf_status_of_a_split_label_lists_every_arm(server: Server) -> None:
    for _ in range(5):  # a single pick would show one arm, and differ between calls
        status = httpx.get(f"{server.url}/v1/models/ab/labels/canary").json()
        listed = [(s["version"], s["state"]) for s in status["model_version_status"]]
        assert listed == [("1", "AVAILABLE"), ("2", "AVAILABLE")], status


def test_shadow_traffic_never_changes_a_response(server: Server) -> None:
    def client(alias: str) -> list[dict[str, Any]]:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            path = f"/v2/models/sh/versions/{alias}/infer"
            return [infer(http, path) for _ in range(SHADOW_REQUESTS)]

    with ThreadPoolExecutor(3) as pool:
        aliases = ("differs", "same", "fails")
        results = dict(zip(aliases, pool.map(client, aliases), strict=True))
    for alias, answers in results.items():
        for answer in answers:
            assert answer["model_version"] == "1", alias
            assert answer["outputs"][0]["data"] == [2.0, 2.0], alias  # v1: x + 1
    counts = settled_shadow_counts(server)
    differs, same, fails = counts["2"], counts["3"], counts["4"]
    print(f"\nshadow counts (requests, mismatches, failures, skipped): {counts}")
    assert differs[0] + differs[3] == SHADOW_REQUESTS and differs[1] == differs[0] > 0
    assert same[0] > 0 and same[1] == 0 and same[2] == 0
    sampled = same[0] + same[2] + same[3]  # 50%: binomial sd 8.7 on 300, so +/-45 is 5 sd
    assert abs(sampled - SHADOW_REQUESTS / 2) <= 45, same
    assert fails[2] + fails[3] == SHADOW_REQUESTS and fails[2] > 0 and fails[0] == 0


def settled_shadow_counts(server: Server) -> dict[str, tuple[float, ...]]:
    """Per shadow version: (requests, mismatches, failures, skipped), once every copy is done.

    The copies run after the responses, so the counts may still move for a moment.
    """
    deadline = time.monotonic() + 30
    previous: dict[str, tuple[float, ...]] = {}
    while True:
        text = httpx.get(server.url + "/metrics").text
        found = {
            shadow: tuple(
                metric(text, f"modelport_shadow_{kind}_total", model="sh", shadow_version=shadow)
                for kind in ("requests", "mismatches", "failures", "skipped")
            )
            for shadow in ("2", "3", "4")
        }
        done = sum(found["2"][i] for i in (0, 2, 3)) + sum(found["4"][i] for i in (0, 2, 3))
        # "same" copies a share, so its total is unknown: settled when it stops moving.
        if (done == 2 * SHADOW_REQUESTS and found == previous) or time.monotonic() > deadline:
            return found
        previous = found
        time.sleep(0.1)


BAD = [
    # method, path, body, headers?, status, message
    (
        "PUT",
        "/v2/repository/models/ab/aliases/canary",
        {"weights": {"1": 110, "2": -10}},
        400,
        "weight of version 2 is negative (-10)",
    ),
    (
        "PUT",
        "/v2/repository/models/ab/aliases/canary",
        {"weights": {"1": 50, "2": 40}},
        400,
        "split weights must sum to 100, they sum to 90",
    ),
    (
        "PUT",
        "/v2/repository/models/ab/aliases/canary",
        {"weights": {"1": 90, "9": 10}},
        404,
        "model 'ab' has no version 9 (versions: 1, 2, 3)",
    ),
    (
        "PUT",
        "/v2/repository/models/ab/aliases/canary",
        {"weights": {"1": 90, "3": 10}},
        409,
        "version 3 failed to load: ab version 3 was modified after publishing",
    ),
    (
        "PUT",
        "/v2/repository/models/ab/aliases/stable",
        {"version": 3},
        409,
        "version 3 failed to load: ab version 3 was modified after publishing",
    ),
    (
        "PUT",
        "/v2/repository/models/ab/aliases/stable",
        {"version": 1, "shadow": {"version": 3, "percent": 5}},
        409,
        "version 3 failed to load",
    ),
    (
        "PUT",
        "/v2/repository/models/ab/aliases/stable",
        {"version": 1, "shadow": {"version": 2}},
        400,
        'shadow must be {"version": N, "percent": P}',
    ),
    (
        "PUT",
        "/v2/repository/models/ab/aliases/st%20able",
        {"version": 1},
        400,
        "alias 'st able' is not valid",
    ),
    (
        "PUT",
        "/v2/repository/models/ab/config",
        {"version_policy": {"latest": 0}},
        400,
        "latest must be a positive integer, got 0",
    ),
    (
        "PUT",
        "/v2/repository/models/ab/config",
        {"preserve": "speed"},
        400,
        "preserve must be 'availability' or 'resources'",
    ),
    ("PUT", "/v2/repository/models/ghost/config", {}, 404, "model 'ghost' not found"),
    ("GET", "/v2/repository/models/ghost/config", None, 404, "model 'ghost' not found"),
    (
        "PUT",
        "/v2/repository/releases/r",
        {"models": {"ab": 3}},
        409,
        "model 'ab' version 3 failed to load",
    ),
    ("PUT", "/v2/repository/releases/r", {"models": {"ab": 9}}, 404, "model 'ab' has no version 9"),
    ("PUT", "/v2/repository/releases/r", {"models": {"ghost": 1}}, 404, "unknown model 'ghost'"),
    ("PUT", "/v2/repository/releases/r", {"models": {}}, 400, "a release needs at least one model"),
    (
        "PUT",
        "/v2/repository/releases/r",
        {"models": {"ab": "1"}},
        400,
        "must be a positive integer, got '1'",
    ),
    (
        "PUT",
        "/v2/repository/releases/r%20s",
        {"models": {"ab": 1}},
        400,
        "release name 'r s' is not valid",
    ),
    ("GET", "/v2/repository/releases/none", None, 404, "no release 'none' (releases: none)"),
    ("DELETE", "/v2/repository/releases/none", None, 404, "no release 'none'"),
]
UNAUTHORIZED = [
    ("PUT", "/v2/repository/models/ab/config", {}),
    ("PUT", "/v2/repository/releases/r", {"models": {"ab": 1}}),
    ("DELETE", "/v2/repository/releases/r", None),
    ("POST", "/v2/repository/reload", None),
]
BAD_INFERENCE = [
    ({"X-Modelport-Release": "none"}, 404, "no release 'none' (releases: none)"),
    (
        {"X-Modelport-Release": "none", "X-Modelport-Release-Revision": "x"},
        400,
        "must be a number, got 'x'",
    ),
    (
        {"X-Modelport-Release": "none", "X-Modelport-Release-Revision": "3"},
        409,
        "release 'none' has no revision 3 (no such release is stored",
    ),
]


def test_bad_requests_are_refused_and_change_nothing(server: Server) -> None:
    aliases = (server.repo / "ab" / "aliases.json").read_text()
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for method, path, body, status, message in BAD:
            response = http.request(method, path, json=body, headers=server.admin)
            error = response.json()["error"]
            assert response.status_code == status and message in error, (path, body, error)
        for method, path, body in UNAUTHORIZED:
            assert http.request(method, path, json=body).status_code == 401, path
        for headers, status, message in BAD_INFERENCE:
            response = http.post("/v2/models/ab/infer", json=v2_body(1), headers=headers)
            error = response.json()["error"]
            assert response.status_code == status and message in error, (headers, error)
        assert infer(http, "/v2/models/ab/infer")["model_version"] == "1"  # stable kept v1
        reload = http.post("/v2/repository/reload", headers=server.admin)
        states = {(e["name"], e.get("version")): e["state"] for e in reload.json()}
        assert states[("ab", "3")] == "FAILED" and states[("ab", "1")] == "READY"
        policy = {"version_policy": {"all": True}}
        config = http.put("/v2/repository/models/ab/config", json=policy, headers=server.admin)
        assert config.json() == {"name": "ab", **policy, "preserve": "availability"}
        assert http.get("/v2/repository/models/ab/config").json() == config.json()
    assert (server.repo / "ab" / "aliases.json").read_text() == aliases
    assert not (server.repo / ".releases.json").exists()
    assert json.loads((server.repo / "ab" / "config.json").read_text())["version_policy"] == {
        "all": True
    }
