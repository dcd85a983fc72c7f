"""A rollout under load: publish v2, switch `stable` v1 -> v2, retire v1; and a broken v3
dropped into the repository of another model meanwhile. 20 s, 8 client threads, loopback.

Model `roll` is slow (milliseconds of matmuls per call, inputs big enough for the thread
pool), so requests hold leases when v1 is retired; its policy is `all`, so v1 stays loaded
after the switch until it is deleted. Model `plain` (default: the latest) gets v2 through
the repository poll and a corrupt v3 copied in by hand.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from model_repo.aliases import AliasTarget
from model_repo.model_config import ModelConfig, VersionPolicy
from model_repo.repository import Repository
from tests.artifacts import publish_tiny
from tests.integration.load import (
    Call,
    Clients,
    Window,
    metric,
    post,
    publish_slow,
    timed,
    v2_body,
    write_slow_onnx,
)
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-rollout")
LOAD_SECONDS = 20.0
ROWS = 520  # 1040 elements: over the inline limit, so calls run in the pool
LONG_ROWS = 100_000  # about a second in the model: in flight while v1 is retired
STABLE = "/v2/repository/models/roll/aliases/stable"
ON_V1 = "/v2/models/roll/versions/1/infer"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("rollout") / "repo"
    repo = Repository(root)
    publish_slow(repo, "roll", 1.0)
    repo.set_alias("roll", "stable", AliasTarget(version=1))
    repo.set_config("roll", ModelConfig(VersionPolicy(latest=None, all=True)))
    publish_tiny(repo, "plain", 1.0)
    log = tmp_path_factory.mktemp("rollout-log") / "server.log"
    with running_server(root, log) as running:
        yield running


def broken_copy(scratch: Path, live: Path) -> None:
    """Build a v3 of `plain` elsewhere, corrupt it, and copy it in by hand (not atomically)."""
    repo = Repository(scratch)
    for offset in (1.0, 2.0, 3.0):
        publish_tiny(repo, "plain", offset)
    artifact = repo.artifact_path("plain", 3)
    artifact.write_bytes(artifact.read_bytes() + b"corrupt")
    shutil.copytree(scratch / "plain" / "3", live / "plain" / "3")


def test_rollout_under_load(server: Server, admin: httpx.Client, tmp_path: Path) -> None:
    body = v2_body(ROWS)
    write_slow_onnx(tmp_path / "roll-v2.onnx", 2.0)
    with (
        Clients(server.url, 4, lambda h: [post(h, "/v2/models/roll/infer", body)]) as stable,
        Clients(server.url, 2, lambda h: [post(h, "/v2/models/plain/infer", v2_body(1))]) as plain,
    ):
        began = time.monotonic()
        with Clients(server.url, 2, lambda h: [post(h, ON_V1, body)]) as pinned:
            time.sleep(3)
            with (tmp_path / "roll-v2.onnx").open("rb") as artifact:
                upload = admin.post("/v2/repository/models/roll/versions", files={"file": artifact})
            assert upload.status_code == 201, upload.text
            publish_tiny(Repository(server.repo), "plain", 2.0)  # behind the gateway's back
            time.sleep(4)
            with timed() as switch:
                response = admin.put(STABLE, json={"version": 2})
            assert response.status_code == 200, response.text
            time.sleep(3)
            broken_copy(tmp_path / "scratch", server.repo)
            dropped = time.monotonic()
            time.sleep(2)
        in_flight, retire = retire_v1_during_a_long_call(server, admin)
        after = [post(admin, ON_V1, v2_body(1)) for _ in range(3)]
        time.sleep(max(0.0, LOAD_SECONDS - (time.monotonic() - began)))
    index = admin.post("/v2/repository/index").json()
    metrics = httpx.get(server.url + "/metrics").text

    total = len(stable.calls) + len(pinned.calls) + len(plain.calls) + 1
    print(
        f"\nrollout: {total} requests in {LOAD_SECONDS:.0f} s; stable clients "
        f"{len(stable.calls)} (v1 {sum(c.version == '1' for c in stable.calls)}, "
        f"v2 {sum(c.version == '2' for c in stable.calls)}), plain {len(plain.calls)}, "
        f"pinned to v1 {len(pinned.calls)}; switch took {switch.ended - switch.started:.3f} s, "
        f"retire {retire.ended - retire.started:.3f} s "
        f"(a {in_flight.ended - in_flight.started:.2f} s call in flight)"
    )
    check_stable_clients(stable.calls, switch.started, switch.ended)
    check_plain_clients(plain.calls, dropped, index)
    assert {(c.status, c.version) for c in pinned.calls} == {(200, "1")}
    assert (in_flight.status, in_flight.version) == (200, "1"), in_flight
    for call in after:
        assert call.status == 404 and "has no version 1 (versions: 2)" in call.text, call
    check_unload_waited_for_leases(server.log_text())
    for version in ("1", "2"):
        calls = [*stable.calls, *pinned.calls, in_flight]
        served = [c for c in calls if c.status == 200 and c.version == version]
        labels = {"model": "roll", "version": version}
        assert metric(metrics, "modelport_inference_requests_total", **labels) == len(served)


def retire_v1_during_a_long_call(server: Server, admin: httpx.Client) -> tuple[Call, Window]:
    """Delete v1 while a request of LONG_ROWS rows holds a lease on it; the call and the delete."""
    found: list[Call] = []
    with httpx.Client(base_url=server.url, timeout=120) as http:
        long_body = v2_body(LONG_ROWS)
        call = threading.Thread(target=lambda: found.append(post(http, ON_V1, long_body)))
        call.start()
        deadline = time.monotonic() + 30
        while leases(server, "1") < 1:  # nothing else uses v1 now: this is the long call
            assert time.monotonic() < deadline and call.is_alive(), found
            time.sleep(0.01)
        with timed() as retire:
            response = admin.delete("/v2/repository/models/roll/versions/1")
        assert response.status_code == 200, response.text
        call.join()
    return found[0], retire


def leases(server: Server, version: str) -> float:
    text = httpx.get(server.url + "/metrics").text
    return metric(text, "modelport_model_version_leases", model="roll", version=version)


def check_stable_clients(calls: list[Call], started: float, ended: float) -> None:
    failed = [c for c in calls if c.status != 200]
    assert failed == [], failed[:3]
    before = [c.version for c in calls if c.ended < started]
    after = [c.version for c in calls if c.started > ended]
    assert before and set(before) == {"1"}
    assert after and set(after) == {"2"}


def check_plain_clients(calls: list[Call], dropped: float, index: list[dict]) -> None:
    failed = [c for c in calls if c.status != 200]
    assert failed == [], failed[:3]
    assert {c.version for c in calls if c.started > dropped} == {"2"}
    states = {(e["name"], e.get("version")): e for e in index}
    broken = states[("plain", "3")]
    assert broken["state"] == "FAILED"
    assert "plain version 3 was modified after publishing and is refused" in broken["reason"]
    assert states[("plain", "2")]["state"] == "READY"
    assert states[("roll", "2")]["state"] == "READY" and ("roll", "1") not in states


def check_unload_waited_for_leases(log: str) -> None:
    found = re.search(
        r"roll version 1 unloaded: (\d+) lease\(s\) were out when it was retired, "
        r"(\d+) when it closed",
        log,
    )
    assert found, log[-3000:]
    out, left = map(int, found.groups())
    assert out == 1, "the long call was in flight when v1 was retired"
    assert left == 0, "v1 closed only after its last lease came back"
    assert "roll version 2 warmed up" in log
