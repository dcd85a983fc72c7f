"""Uploads, aliases and deletes through the API and the CLI clients; the served models follow."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from gateway.cli import exit_codes
from tests.artifacts import write_tiny_onnx
from tests.integration.models import IRIS_COLUMNS, Sources, iris_rows
from tests.integration.servers import MODELPORT, ROOT, Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-uploads")


@pytest.fixture(scope="module")
def server(
    repo_copy: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("upload-log") / "server.log"
    with running_server(repo_copy("uploads"), log) as running:
        yield running


def _upload(server: Server, name: str, path: Path, **fields: str) -> httpx.Response:
    with path.open("rb") as handle:
        return httpx.post(
            f"{server.url}/v2/repository/models/{name}/versions",
            files={"file": (path.name, handle)},
            data=fields,
            headers=server.admin,
            timeout=300,
        )


def _tiny(server: Server, ref: str = "") -> dict[str, Any]:
    path = f"/v2/models/tiny/versions/{ref}/infer" if ref else "/v2/models/tiny/infer"
    tensor = {"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1.0, 2.0]}
    response = httpx.post(server.url + path, json={"inputs": [tensor]})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_onnx_artifact_upload_then_versions_aliases_and_delete(
    server: Server, tmp_path: Path
) -> None:
    first, second = tmp_path / "one" / "tiny.onnx", tmp_path / "two" / "tiny.onnx"
    for path, offset in ((first, 1.0), (second, 2.0)):
        path.parent.mkdir()
        write_tiny_onnx(path, offset)
    created = _upload(server, "tiny", first)
    assert created.status_code == 201, created.text
    manifest = created.json()
    assert (manifest["name"], manifest["version"], manifest["format"]) == ("tiny", 1, "onnx")
    assert manifest["provenance"]["framework"] == "onnx" and manifest["parity"] is None
    assert manifest["signature"]["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 2]}]
    assert _tiny(server)["outputs"][0]["data"] == [2.0, 3.0]

    assert _upload(server, "tiny", second).json()["version"] == 2
    latest = _tiny(server)  # no stable alias: the newest version serves
    assert latest["model_version"] == "2" and latest["outputs"][0]["data"] == [3.0, 4.0]

    aliased = httpx.put(
        f"{server.url}/v2/repository/models/tiny/aliases/stable",
        json={"version": 1},
        headers=server.admin,
    )
    assert aliased.status_code == 200 and aliased.json()["version"] == 1
    assert _tiny(server)["model_version"] == "1"
    assert _tiny(server, "2")["model_version"] == "2"  # an older version stays reachable

    unaliased = httpx.delete(
        f"{server.url}/v2/repository/models/tiny/aliases/stable", headers=server.admin
    )
    assert unaliased.status_code == 200
    assert _tiny(server)["model_version"] == "2"
    deleted = httpx.delete(
        f"{server.url}/v2/repository/models/tiny/versions/1", headers=server.admin
    )
    assert deleted.status_code == 200, deleted.text
    gone = httpx.post(
        f"{server.url}/v2/models/tiny/versions/1/infer",
        json={"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 2], "data": [1, 2]}]},
    )
    assert gone.status_code == 404 and "has no version 1 (versions: 2)" in gone.json()["error"]
    assert not (server.repo / "tiny" / "1").exists()


def test_server_side_sklearn_to_onnx(server: Server, sources: Sources) -> None:
    created = _upload(server, "converted", sources.columns_file, to="onnx", alias="stable")
    assert created.status_code == 201, created.text
    manifest = created.json()
    assert manifest["provenance"]["framework"] == "sklearn"
    assert manifest["provenance"]["converter"] == "sklearn_onnx"
    assert manifest["parity"]["passed"] is True
    rows = iris_rows(sources, 4)
    response = httpx.post(
        f"{server.url}/v1/models/converted/labels/stable:predict",
        json={"inputs": {c: rows[:, i].tolist() for i, c in enumerate(IRIS_COLUMNS)}},
    )
    assert response.status_code == 200, response.text
    frame = sources.iris_x.iloc[::30].head(4)
    assert response.json()["outputs"]["label"] == sources.columns_model.predict(frame).tolist()


def test_an_upload_may_name_its_version_once(
    server: Server, sources: Sources, tmp_path: Path
) -> None:
    write_tiny_onnx(tmp_path / "tiny.onnx", 5.0)
    created = _upload(server, "numbered", tmp_path / "tiny.onnx", version="123")
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 123
    for taken in ("123", "7"):
        refused = _upload(server, "numbered", tmp_path / "tiny.onnx", version=taken)
        assert refused.status_code == 409, refused.text
        assert "never reused" in refused.json()["error"] and "up to 123" in refused.json()["error"]
    bad = _upload(server, "numbered", tmp_path / "tiny.onnx", version="v2")
    assert bad.status_code == 400 and "must be a version number" in bad.json()["error"]
    converted = _upload(server, "numbered", sources.array_file, to="onnx", version="200")
    assert converted.status_code == 201, converted.text
    assert converted.json()["version"] == 200
    assert sorted(
        int(p.name) for p in (server.repo / "numbered").iterdir() if p.name.isdigit()
    ) == [
        123,
        200,
    ]
    status = httpx.get(f"{server.url}/v1/models/numbered/versions/200", timeout=30)
    assert status.json()["model_version_status"][0]["state"] == "AVAILABLE", status.text


def cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MODELPORT, *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_cli_push_and_predict(server: Server, sources: Sources, tmp_path: Path) -> None:
    pushed = cli(
        "push", sources.array_file, "--name", "pushed", "--url", server.url,
        "--to", "onnx", "--token", server.admin_token,
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert "published pushed version 1 (onnx)" in pushed.stdout

    rows = iris_rows(sources, 3)
    csv = tmp_path / "rows.csv"
    csv.write_text(
        ",".join(IRIS_COLUMNS) + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n"
    )
    from_csv = cli("predict", "pushed", "--url", server.url, "--data", csv)
    assert from_csv.returncode == 0, from_csv.stderr
    result = json.loads(from_csv.stdout)
    assert result["model_version"] == "1"
    assert result["outputs"]["label"] == sources.array_model.predict(rows).tolist()

    records = tmp_path / "rows.json"
    records.write_text(
        json.dumps([dict(zip(IRIS_COLUMNS, map(float, r), strict=True)) for r in rows])
    )
    from_json = cli(
        "predict", "iris", "--version", "stable", "--url", server.url, "--data", records
    )
    assert from_json.returncode == 0, from_json.stderr
    frame = sources.iris_x.iloc[::30].head(3)
    labels = json.loads(from_json.stdout)["outputs"]["label"]
    assert labels == sources.columns_model.predict(frame).tolist()
    probabilities = json.loads(from_json.stdout)["outputs"]["probabilities"]
    np.testing.assert_allclose(probabilities, sources.columns_model.predict_proba(frame), atol=1e-5)


def test_cli_clients_report_remote_errors_with_their_exit_codes(
    server: Server, sources: Sources, tmp_path: Path
) -> None:
    no_token = cli("push", sources.array_file, "--name", "x", "--url", server.url, "--to", "onnx")
    assert no_token.returncode == exit_codes.REMOTE_ERROR
    assert "401" in no_token.stderr and "Authorization" in no_token.stderr
    data = tmp_path / "rows.json"
    data.write_text(json.dumps({"input": [[1, 2, 3, 4]]}))
    unknown = cli("predict", "ghost", "--url", server.url, "--data", data)
    assert unknown.returncode == exit_codes.REMOTE_ERROR
    assert "unknown model 'ghost'" in unknown.stderr
    unreachable = cli("predict", "iris", "--url", "http://127.0.0.1:9", "--data", data)
    assert unreachable.returncode == exit_codes.UNREACHABLE
    assert "cannot reach" in unreachable.stderr


@pytest.mark.pmml
def test_a_pmml_upload_with_untyped_output_fields_serves_every_one(
    server: Server, tmp_path: Path
) -> None:
    from tests.model_repo.test_format_pmml import CLASSIFIER, UNTYPED_OUTPUTS, _tables

    scorecard = tmp_path / "scorecard.pmml"
    scorecard.write_text(UNTYPED_OUTPUTS, encoding="utf-8")
    created = _upload(server, "scorecard", scorecard)
    assert created.status_code == 201, created.text  # was a 500 from jpmml_evaluator
    outputs = [o["name"] for o in created.json()["signature"]["outputs"]]
    assert outputs == [
        "prediction",
        "Final Score",
        "Reason Code 1",
        "Reason Code 2",
        "Doubled",
        "Band",
    ]
    inputs = [
        {"name": "age", "datatype": "INT64", "shape": [2, 1], "data": [25, 40]},
        {"name": "income", "datatype": "FP64", "shape": [2, 1], "data": [500.0, 5000.0]},
    ]
    answer = httpx.post(f"{server.url}/v2/models/scorecard/infer", json={"inputs": inputs})
    assert answer.status_code == 200, answer.text
    by_name = {o["name"]: o for o in answer.json()["outputs"]}
    assert by_name["Final Score"]["data"] == [5.0, 27.0]
    assert by_name["Reason Code 1"] == {
        "name": "Reason Code 1",
        "datatype": "BYTES",
        "shape": [2],
        "data": ["AGE", ""],
    }
    assert by_name["Band"]["data"] == ["low", "high"]

    classifier = tmp_path / "classifier.pmml"
    classifier.write_text(CLASSIFIER.replace("{tables}", _tables()), encoding="utf-8")
    uploaded = _upload(server, "classes", classifier)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["labels"] == [0, 1, 2]  # the probabilities' column order
    metadata = httpx.get(f"{server.url}/v2/models/classes").json()
    assert metadata["parameters"] == {"labels": [0, 1, 2]}


def test_native_booster_upload_converts_by_content(server: Server, tmp_path: Path) -> None:
    """A native XGBoost model.json converts on upload like a .skops; a .json that is no
    booster is refused once read, and nothing is published."""
    xgboost = pytest.importorskip("xgboost")
    pytest.importorskip("onnxmltools")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(200, 3))
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 2}, xgboost.DMatrix(x, x[:, 0] > 0), 5
    )
    path = tmp_path / "model.json"
    booster.save_model(path)
    created = _upload(server, "booster", path, to="onnx")
    assert created.status_code == 201, created.text
    manifest = created.json()
    assert manifest["provenance"]["framework"] == "xgboost" and manifest["labels"] == [0, 1]
    rows = rng.normal(size=(5, 3)).astype(np.float32)
    tensor = {"name": "input", "datatype": "FP32", "shape": [5, 3], "data": rows.ravel().tolist()}
    response = httpx.post(f"{server.url}/v2/models/booster/infer", json={"inputs": [tensor]})
    assert response.status_code == 200, response.text
    outputs = {o["name"]: o for o in response.json()["outputs"]}
    served = np.asarray(outputs["probabilities"]["data"]).reshape(5, 2)[:, 1]
    np.testing.assert_allclose(served, booster.predict(xgboost.DMatrix(rows)), atol=1e-5)

    settings = tmp_path / "settings.json"
    settings.write_text('{"learning_rate": 0.1}')
    refused = _upload(server, "settings", settings, to="onnx")
    assert refused.status_code == 422, refused.text
    assert "settings.json: unknown model file type" in refused.json()["error"]
    assert httpx.get(f"{server.url}/v2/models/settings").status_code == 404
