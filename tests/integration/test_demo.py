"""The README's first command converts the demo models: run that step as a user would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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
def test_demo_converts_every_model_and_prints_a_request_for_each(tmp_path: Path) -> None:
    repo = tmp_path / "models"
    command = [sys.executable, "-m", "demo.build_models", "--repo", str(repo)]
    command += ["--sources", str(tmp_path / "sources")]
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
    for name in EXPECTED:
        assert f"/v2/models/{name}/infer -d '" in result.stdout
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and again.stdout.count("already in") == len(EXPECTED)
