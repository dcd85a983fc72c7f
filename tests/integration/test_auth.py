"""Tokens: a generated admin token, an inference token, and what each one opens."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-auth")
READER = "reader-token"
REQUEST = {"inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]}


@pytest.fixture(scope="module")
def server(
    repo_copy: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("auth-log") / "server.log"
    args = ("--inference-token", READER)
    with running_server(repo_copy("auth"), log, *args, admin_token=None) as running:
        yield running


@pytest.fixture(scope="module")
def admin_token(server: Server) -> str:
    """The token the server generated and printed at start, since none was given."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.search(r"admin token \(generated[^)]*\): (\S+)", server.log_text())
        if found:
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(server.log_text())


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_generated_admin_token_is_long_and_random(admin_token: str) -> None:
    assert len(admin_token) >= 40


def test_inference_needs_the_inference_or_admin_token(server: Server, admin_token: str) -> None:
    url = server.url + "/v2/models/iris_array/infer"
    refused = httpx.post(url, json=REQUEST)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "requires the inference token" in refused.json()["error"]
    wrong = httpx.post(url, json=REQUEST, headers=bearer("nope"))
    assert wrong.status_code == 401
    assert wrong.json() == {"error": "the bearer token is not valid for this server"}
    for token in (READER, admin_token):
        served = httpx.post(url, json=REQUEST, headers=bearer(token))
        assert served.status_code == 200 and served.json()["model_version"] == "1", served.text
    tf_url = server.url + "/v1/models/iris_array:predict"
    tf = httpx.post(tf_url, json={"instances": [[1, 2, 3, 4]]})
    assert tf.status_code == 401 and "requires the inference token" in tf.json()["error"]
    tf_ok = httpx.post(tf_url, json={"instances": [[1, 2, 3, 4]]}, headers=bearer(READER))
    assert tf_ok.status_code == 200, tf_ok.text
    for path in ("/v2/models/iris", "/v1/models/iris", "/v2/models/iris/ready"):
        read = httpx.get(server.url + path)
        assert read.status_code == 401, path
        assert "requires the inference token" in read.json()["error"], path
    index = httpx.post(server.url + "/v2/repository/index")
    assert index.status_code == 401 and "requires the inference token" in index.json()["error"]


def test_health_and_metrics_stay_open(server: Server) -> None:
    assert httpx.get(server.url + "/v2/health/live").status_code == 200
    assert httpx.get(server.url + "/v2/health/ready").status_code == 200
    assert httpx.get(server.url + "/metrics").status_code == 200


def test_writes_need_the_admin_token(server: Server, admin_token: str) -> None:
    url = server.url + "/v2/repository/models/iris/aliases/stable"
    with_reader = httpx.put(url, json={"version": 2}, headers=bearer(READER))
    assert with_reader.status_code == 401 and "not the admin token" in with_reader.json()["error"]
    with_admin = httpx.put(url, json={"version": 2}, headers=bearer(admin_token))
    assert with_admin.status_code == 200, with_admin.text
    model = httpx.get(server.url + "/v2/models/iris", headers=bearer(READER)).json()
    assert model["inputs"][0]["name"] == "input"  # stable now points at version 2
