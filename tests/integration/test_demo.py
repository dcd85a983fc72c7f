"""The README's first command converts the demo models and serves them, printing a working
`curl` for each: run those steps as a user would, then every printed curl against the server."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.integration.servers import free_port, running_server

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "iris-onnx": "onnx",
    "iris-pmml": "pmml",
    "loan-onnx": "onnx",
    "loan-pmml": "pmml",
    "mlp-torch": "onnx",
    "scorer-keras": "savedmodel",
}


@pytest.mark.pmml
@pytest.mark.torch
@pytest.mark.tensorflow
@pytest.mark.skipif(shutil.which("curl") is None, reason="runs the printed curl commands")
def test_demo_converts_every_model_and_prints_a_request_for_each(tmp_path: Path) -> None:
    repo = tmp_path / "models"
    port = free_port()
    command = [sys.executable, "-m", "demo.build_models", "--repo", str(repo)]
    command += ["--sources", str(tmp_path / "sources"), "--url", f"http://127.0.0.1:{port}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    listed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from gateway.cli import main; main()",
            "models",
            "list",
            "--repo",
            str(repo),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    models = {row["name"]: row for row in json.loads(listed.stdout)}
    assert {name: row["formats"]["1"] for name, row in models.items()} == EXPECTED
    curls = [line.strip() for line in result.stdout.splitlines() if "curl " in line]
    assert len(curls) == len(EXPECTED), result.stdout
    for name in EXPECTED:
        assert any(f"/v2/models/{name}/infer -d '" in line for line in curls), name
    answers = {}
    with running_server(repo, tmp_path / "server.log", port=port):
        for line in curls:  # exactly as printed, through the shell a user would paste into
            done = subprocess.run(line, shell=True, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, (line, done.stderr)
            answer = json.loads(done.stdout)
            answers[answer["model_name"]] = answer
            assert answer["model_version"] == "1", (line, answer)
            url = f"http://127.0.0.1:{port}/v2/models/{answer['model_name']}/infer"
            assert shlex.split(line)[2] == url, (line, answer)
            assert answer["outputs"] and all(o["data"] for o in answer["outputs"]), answer
    for model in ("iris", "loan"):  # one classifier, two formats: one answer, one schema
        onnx, pmml = answers[f"{model}-onnx"]["outputs"], answers[f"{model}-pmml"]["outputs"]
        schema = [(o["name"], o["datatype"], o["shape"]) for o in onnx]
        assert schema == [(o["name"], o["datatype"], o["shape"]) for o in pmml], model
        assert onnx[0]["name"] == "label" and onnx[0]["data"] == pmml[0]["data"], model
        np.testing.assert_allclose(onnx[1]["data"], pmml[1]["data"], rtol=1e-5, atol=1e-6)
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and again.stdout.count("already in") == len(EXPECTED)
