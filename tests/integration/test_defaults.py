"""`modelport serve` with its defaults: the loopback bind, the 64 MiB body and 1 GiB upload
limits, the admin token from `MODELPORT_ADMIN_TOKEN`; and `--allow-pickle`, which lets a
pickled model in over HTTP (converted, parity-checked and served like any other).

One server, started with neither `--host`, nor limits, nor `--admin-token`.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.integration.models import Sources, iris_rows
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-defaults")
ENV_TOKEN = "token-from-the-environment"
MIB = 1 << 20


@pytest.fixture(scope="module")
def server(
    repo_copy: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("defaults-log") / "server.log"
    env = {"MODELPORT_ADMIN_TOKEN": ENV_TOKEN}
    with running_server(
        repo_copy("defaults"), log, "--allow-pickle", admin_token=None, env=env
    ) as running:
        yield running


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the sockets listening on `port` (Linux /proc/net)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with Path(table).open() as lines:
            next(lines)
            for line in lines:
                local, state = line.split()[1], line.split()[3]
                address, hexport = local.split(":")
                if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                    raw = bytes.fromhex(address)
                    # /proc prints each 32-bit word in host (little-endian) order
                    words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
                    family = socket.AF_INET if width == 8 else socket.AF_INET6
                    found.add(socket.inet_ntop(family, b"".join(words)))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net")
def test_the_default_bind_is_loopback_only(server: Server) -> None:
    port = int(server.host_port.rsplit(":", 1)[1])
    assert listening_addresses(port) == {"127.0.0.1"}
    assert f"modelport serving {server.repo} on http://127.0.0.1:{port}" in server.log_text()
    assert "reachable beyond this machine" not in server.log_text()


def declared_only(server: Server, path: str, length: int) -> tuple[int, str]:
    """Send only the headers of a POST declaring `length` body bytes; the status and body."""
    host, port = server.host_port.rsplit(":", 1)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {server.host_port}\r\n"
        f"Authorization: Bearer {ENV_TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1].decode()


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 30


def test_the_default_limits_are_64_mib_for_bodies_and_1_gib_for_uploads(server: Server) -> None:
    status, body = declared_only(server, "/v2/models/iris_array/infer", 64 * MIB + 1)
    assert status == 413, body
    assert "the request body is 67108865 bytes" in body and "at most 67108864 bytes" in body
    status, body = declared_only(server, "/v2/repository/models/big/versions", 1024 * MIB + 1)
    assert status == 413, body
    assert "at most 1073741824 bytes (1024 MiB)" in body
    # A body over the 1 MiB the bad-input server allows is fine here (3 MiB of JSON).
    rows = np.ones((100_000, 4), dtype=np.float32)
    tensor = {"name": "input", "datatype": "FP32", "shape": [100_000, 4], "data": rows.tolist()}
    response = httpx.post(
        server.url + "/v2/models/iris_array/infer", json={"inputs": [tensor]}, timeout=60
    )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["outputs"][0]["shape"] == [100_000]


def test_the_admin_token_comes_from_the_environment(server: Server) -> None:
    assert "admin token (generated" not in server.log_text()
    url = server.url + "/v2/repository/models/iris/aliases/canary"
    refused = httpx.put(url, json={"version": 1}, headers=bearer("test-admin-token"))
    assert refused.status_code == 401 and "not the admin token" in refused.json()["error"]
    accepted = httpx.put(url, json={"version": 1}, headers=bearer(ENV_TOKEN))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"model": "iris", "alias": "canary", "version": 1}


def test_allow_pickle_lets_a_joblib_model_in(
    server: Server, sources: Sources, tmp_path: Path
) -> None:
    import joblib

    path = tmp_path / "iris.joblib"
    joblib.dump(sources.array_model, path)
    with path.open("rb") as handle:
        created = httpx.post(
            server.url + "/v2/repository/models/pickled/versions",
            files={"file": (path.name, handle)},
            data={"to": "onnx"},
            headers=bearer(ENV_TOKEN),
            timeout=300,
        )
    assert created.status_code == 201, created.text
    manifest = created.json()
    assert manifest["provenance"]["framework"] == "sklearn" and manifest["parity"]["passed"]
    rows = iris_rows(sources)
    tensor = {"name": "input", "datatype": "FP32", "shape": [5, 4], "data": rows.tolist()}
    response = httpx.post(server.url + "/v2/models/pickled/infer", json={"inputs": [tensor]})
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["data"] == sources.array_model.predict(rows).tolist()
