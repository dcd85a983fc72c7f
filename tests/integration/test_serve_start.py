"""How `modelport serve` starts, through real processes: it says it is serving only once it
answers, and a port already in use is refused at once with its own exit code and message."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from gateway.cli import exit_codes
from model_repo.repository import Repository
from tests.artifacts import publish_tiny
from tests.integration.servers import MODELPORT, ROOT, free_port, running_server

pytestmark = pytest.mark.xdist_group("gateway-serve-start")


def _serve(repo: Path, port: int, *args: str, grpc_port: int = 0) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPORT_")}
    command = [*MODELPORT, "serve", "--repo", str(repo), "--port", str(port), *args]
    command += ["--grpc-port", str(grpc_port)]
    command += ["--admin-token", "t"]
    return subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_banner_comes_once_the_port_answers(tmp_path: Path, workers: str) -> None:
    repo = Repository(tmp_path / "repo")
    for name in ("a", "b", "c"):
        publish_tiny(repo, name)
    port = free_port()
    process = _serve(repo.root, port, "--workers", workers)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        line = ""
        while "modelport serving" not in line:
            assert time.monotonic() < deadline and process.poll() is None, process.stderr
            line = process.stdout.readline()
        # The moment the banner is out, a client can connect (with one process, the models
        # are loaded too).
        live = httpx.get(f"http://127.0.0.1:{port}/v2/health/live", timeout=30)
        assert live.status_code == 200
        if workers == "1":
            assert httpx.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200
        assert f"on http://127.0.0.1:{port}" in line
    finally:
        process.terminate()
        process.communicate(timeout=30)  # reaps it and closes its pipes


def test_a_port_in_use_is_refused_at_once_with_its_own_exit_code(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    publish_tiny(repo, "m")
    port = free_port()
    with running_server(repo.root, tmp_path / "first.log", port=port):
        started = time.monotonic()
        second = _serve(repo.root, port)
        stdout, stderr = second.communicate(timeout=60)
    assert second.returncode == exit_codes.PORT_UNAVAILABLE == 17, (stdout, stderr)
    assert f"port {port} on 127.0.0.1 is already in use" in stderr
    assert "--port" in stderr
    assert "modelport serving" not in stdout
    assert "Traceback" not in stderr
    assert time.monotonic() - started < 30


def test_a_repository_that_does_not_exist_is_a_warning_and_an_empty_server(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "not-there"
    port = free_port()
    process = _serve(missing, port)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while "modelport serving" not in process.stdout.readline():
            assert time.monotonic() < deadline and process.poll() is None
        assert httpx.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200
        index = httpx.post(f"http://127.0.0.1:{port}/v2/repository/index")
        assert index.json() == []
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert f"warning: repository {missing} does not exist yet" in stderr
    assert "--repo" in stderr


def test_a_grpc_port_in_use_is_refused_at_once_with_its_own_exit_code(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    publish_tiny(repo, "m")
    with running_server(repo.root, tmp_path / "first.log", grpc=True) as first:
        busy = int(first.grpc_target.rpartition(":")[2])
        started = time.monotonic()
        second = _serve(repo.root, free_port(), grpc_port=busy)
        stdout, stderr = second.communicate(timeout=60)
    assert second.returncode == exit_codes.PORT_UNAVAILABLE == 17, (stdout, stderr)
    assert f"port {busy} on 127.0.0.1 is already in use" in stderr
    assert "--grpc-port" in stderr
    assert "modelport serving" not in stdout and "Traceback" not in stderr
    assert time.monotonic() - started < 30


def test_every_worker_serves_grpc_on_the_shared_port(tmp_path: Path) -> None:
    import tritonclient.grpc as triton

    repo = Repository(tmp_path / "repo")
    publish_tiny(repo, "m")
    log = tmp_path / "server.log"
    with running_server(repo.root, log, "--workers", "2", grpc=True) as server:
        deadline = time.monotonic() + 60
        for line in ("gRPC: KServe V2 and TF Serving's APIs on", "Application startup complete"):
            while log.read_text().count(line) < 2:  # one line per worker
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        for _ in range(10):  # a new connection each time, so the kernel may pick either worker
            client = triton.InferenceServerClient(server.grpc_target)
            try:
                assert client.is_model_ready("m")
            finally:
                client.close()
