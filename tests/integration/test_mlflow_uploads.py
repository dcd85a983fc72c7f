"""MLflow model directories end to end: `modelport convert DIR`, `modelport push DIR --to`,
and an archive uploaded over HTTP, then served answers checked against the model."""

from __future__ import annotations

import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from gateway.cli import exit_codes
from tests.integration.servers import MODELPORT, ROOT, Server, running_server
from tests.mlflow_dirs import sklearn_dir

pytestmark = pytest.mark.xdist_group("gateway-mlflow")
COLUMNS = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("mlflow-uploads")
    with running_server(folder / "repo", folder / "server.log") as running:
        yield running


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, pd.DataFrame]:
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    data = load_iris(as_frame=True)
    frame = data.data.set_axis(COLUMNS, axis=1)
    model = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0)
    return model.fit(frame, data.target), frame


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [*MODELPORT, *map(str, args)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _upload(server: Server, archive: Path, to: str) -> httpx.Response:
    with archive.open("rb") as handle:
        return httpx.post(
            f"{server.url}/v2/repository/models/forest/versions",
            files={"file": (archive.name, handle)},
            data={"to": to},
            headers=server.admin,
            timeout=300,
        )


def _tar(directory: Path) -> Path:
    archive = directory.parent / f"{directory.name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname=directory.name)
    return archive


def test_an_mlflow_archive_upload_is_converted_and_served(
    server: Server, fitted: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    model, frame = fitted
    archive = _tar(sklearn_dir(tmp_path / "forest_model", model, "skops", frame.head(5)))
    created = _upload(server, archive, "onnx")
    assert created.status_code == 201, created.text
    manifest = created.json()
    assert manifest["notes"]["mlflow"]["flavor"] == "sklearn"
    assert manifest["parity"]["sample_source"].startswith("file:forest_model/input_example.json")

    rows = frame.iloc[::25]
    inputs = [
        {"name": c, "datatype": "FP32", "shape": [len(rows), 1], "data": rows[c].tolist()}
        for c in COLUMNS
    ]
    response = httpx.post(f"{server.url}/v2/models/forest/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    labels = next(o for o in response.json()["outputs"] if o["name"] == "label")
    assert labels["data"] == model.predict(rows).tolist()


def test_a_pickled_mlflow_archive_is_a_403_when_pickles_are_not_allowed(
    server: Server, fitted: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    model, frame = fitted
    archive = _tar(sklearn_dir(tmp_path / "pickled", model, "cloudpickle", frame.head(5)))
    refused = _upload(server, archive, "onnx")
    assert refused.status_code == 403, refused.text
    assert "serialized with cloudpickle" in refused.json()["error"]


def test_the_cli_converts_and_pushes_an_mlflow_directory(
    server: Server, fitted: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    model, frame = fitted
    directory = sklearn_dir(tmp_path / "cli_model", model, "skops", frame.head(5))
    converted = _cli("convert", directory, "--name", "local", "--to", "onnx", "--repo", tmp_path)
    assert converted.returncode == exit_codes.OK, converted.stderr
    assert (tmp_path / "local" / "1" / "model.onnx").is_file()

    pushed = _cli(
        "push", directory, "--name", "pushed", "--url", server.url, "--to", "onnx",
        "--token", server.admin_token,
    )  # fmt: skip
    assert pushed.returncode == exit_codes.OK, pushed.stderr
    assert "published pushed version 1 (onnx)" in pushed.stdout
