"""Tokens through a real server: every write endpoint the OpenAPI document lists refuses
anything but the admin token, and non-ASCII tokens work as UTF-8 clients send them."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from model_repo.repository import Repository
from tests.artifacts import publish_tiny
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-auth-tokens")
ADMIN = "adm\u00efn-t\u00f6ken-\u2603"  # beyond latin-1 too
READER = "r\u00e9ader"
X = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0]}]}
# POSTs that read: inference and the index (open to the inference token).
READS = re.compile(r"(/infer|:predict|:classify|:regress|/repository/index)$")
PARAMS = {"model": "m", "version": "1", "alias": "stable", "release": "r", "label": "stable"}


def bearer(token: str, encoding: str = "utf-8") -> dict[bytes, bytes]:
    return {b"Authorization": f"Bearer {token}".encode(encoding)}  # UTF-8, as curl sends it


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("auth-tokens") / "repo"
    publish_tiny(Repository(root), "m")
    log = tmp_path_factory.mktemp("auth-tokens-log") / "server.log"
    args = ("--inference-token", READER, "--poll-interval", "0")
    with running_server(root, log, *args, admin_token=ADMIN) as running:
        yield running


def write_endpoints(server: Server) -> list[tuple[str, str]]:
    document = httpx.get(server.url + "/openapi.json").json()
    found = []
    for template, operations in document["paths"].items():
        path = re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], template)
        for method in operations:
            if method != "get" and not READS.search(template):
                found.append((method.upper(), path))
    return found


def test_every_write_endpoint_refuses_all_but_the_admin_token(server: Server) -> None:
    endpoints = write_endpoints(server)
    refused: list[dict[bytes, bytes]] = [{}, bearer(READER), bearer("wrong")]
    assert len(endpoints) >= 10, endpoints  # load, unload, upload, aliases, releases ...
    for method, path in endpoints:
        for headers in refused:
            response = httpx.request(method, server.url + path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
    assert Repository(server.repo).versions("m") == [1]


def test_non_ascii_tokens_work_as_utf8_clients_send_them(server: Server) -> None:
    url = server.url
    load = httpx.post(url + "/v2/repository/models/m/load", headers=bearer(ADMIN))
    assert load.status_code == 200, load.text
    for token in (READER, ADMIN):
        infer = httpx.post(url + "/v2/models/m/infer", json=X, headers=bearer(token))
        assert infer.status_code == 200, infer.text
        status = httpx.get(url + "/v1/models/m", headers=bearer(token))
        assert status.status_code == 200, status.text
    latin1 = bearer(READER, "latin-1")  # not the bytes of what was configured
    assert httpx.post(url + "/v2/models/m/infer", json=X, headers=latin1).status_code == 401
