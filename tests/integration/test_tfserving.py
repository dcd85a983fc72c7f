"""TF Serving REST (v1) end to end with httpx: row and columnar predict, status, metadata."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.integration.models import IRIS_COLUMNS, Sources, iris_rows
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-tfserving")


@pytest.fixture(scope="module")
def server(
    repo_copy: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("tf-log") / "server.log"
    with running_server(repo_copy("tfserving"), log) as running:
        yield running


def _predict(server: Server, path: str, body: object) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/models/{path}:predict", json=body)


def test_row_format_with_named_columns(server: Server, sources: Sources) -> None:
    rows = iris_rows(sources, 3)
    instances = [dict(zip(IRIS_COLUMNS, map(float, row), strict=True)) for row in rows]
    response = _predict(server, "iris", {"instances": instances})
    assert response.status_code == 200, response.text
    assert response.headers["x-modelport-model-version"] == "1"
    predictions = response.json()["predictions"]
    frame = sources.iris_x.iloc[::30].head(3)
    assert [p["label"] for p in predictions] == sources.columns_model.predict(frame).tolist()
    np.testing.assert_allclose(
        [p["probabilities"] for p in predictions],
        sources.columns_model.predict_proba(frame),
        atol=1e-5,
    )


def test_row_format_with_bare_rows_for_one_input(server: Server, sources: Sources) -> None:
    rows = iris_rows(sources, 2)
    response = _predict(server, "iris_array", {"instances": rows.tolist()})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["label"] for p in predictions] == sources.array_model.predict(rows).tolist()


def test_columnar_format(server: Server, sources: Sources) -> None:
    rows = iris_rows(sources, 2)
    named = _predict(
        server, "iris", {"inputs": {c: rows[:, i].tolist() for i, c in enumerate(IRIS_COLUMNS)}}
    )
    assert named.status_code == 200, named.text
    outputs = named.json()["outputs"]
    frame = sources.iris_x.iloc[::30].head(2)
    assert outputs["label"] == sources.columns_model.predict(frame).tolist()
    assert np.asarray(outputs["probabilities"]).shape == (2, 3)
    bare = _predict(
        server, "iris_array", {"signature_name": "serving_default", "inputs": rows.tolist()}
    )
    assert bare.status_code == 200, bare.text
    assert bare.json()["outputs"]["label"] == sources.array_model.predict(rows).tolist()


def test_versions_and_labels_in_the_path(server: Server, sources: Sources) -> None:
    rows = iris_rows(sources, 1).tolist()
    by_number = _predict(server, "iris/versions/2", {"instances": rows})
    by_label = _predict(server, "iris/labels/canary", {"instances": rows})
    assert by_number.status_code == by_label.status_code == 200, by_number.text
    assert by_number.json() == by_label.json()
    assert by_label.headers["x-modelport-model-version"] == "2"


def test_b64_bytes_and_single_output_predictions(server: Server) -> None:
    words = [b"hello", "wörld".encode()]
    instances = [{"b64": base64.b64encode(w).decode()} for w in words]
    rows = _predict(server, "echo", {"instances": instances})
    assert rows.status_code == 200, rows.text
    assert rows.json() == {"predictions": ["hello", "wörld"]}
    columns = _predict(server, "echo", {"inputs": ["plain", "text"]})
    assert columns.json() == {"outputs": ["plain", "text"]}


def test_model_status(server: Server) -> None:
    status = httpx.get(f"{server.url}/v1/models/iris").json()
    assert status == {
        "model_version_status": [
            {
                "version": v,
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
            for v in ("1", "2")
        ]
    }
    one = httpx.get(f"{server.url}/v1/models/iris/labels/stable").json()
    assert [s["version"] for s in one["model_version_status"]] == ["1"]
    broken = httpx.get(f"{server.url}/v1/models/broken/versions/1").json()
    (entry,) = broken["model_version_status"]
    assert entry["state"] == "END" and entry["status"]["error_code"] == "UNKNOWN"
    assert "modified after publishing" in entry["status"]["error_message"]


def test_metadata_in_tf_serving_shape(server: Server) -> None:
    metadata = httpx.get(f"{server.url}/v1/models/iris/versions/2/metadata").json()
    assert metadata["model_spec"] == {"name": "iris", "signature_name": "", "version": "2"}
    signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["input"] == {
        "dtype": "DT_FLOAT",
        "tensor_shape": {
            "dim": [{"size": "-1", "name": ""}, {"size": "4", "name": ""}],
            "unknown_rank": False,
        },
        "name": "input",
    }
    assert signature["outputs"]["label"]["dtype"] == "DT_INT64"
    assert signature["method_name"] == "tensorflow/serving/predict"


@pytest.mark.parametrize(
    ("path", "body", "status", "phrase"),
    [
        ("iris", {"instances": [[1, 2, 3, 4]]}, 400, "name each one"),
        ("iris_array", {"instances": [[1, 2, 3]]}, 400, "expected shape [-1, 4]"),
        ("iris_array", {"instances": [[1, 2], [3]]}, 400, "not a rectangular array"),
        ("iris_array", {"instances": [[1, 2, 3, 4]], "inputs": [[1]]}, 400, "exactly one of"),
        ("iris_array", {"instances": [["a", "b", "c", "d"]]}, 400, "must be numbers"),
        ("iris_array", {"instances": [[1, True, 3, 4]]}, 400, "mix true/false with numbers"),
        (
            "iris_array",
            {"instances": [[1, 2, 3, 4]], "signature_name": "x"},
            400,
            "no signature 'x'",
        ),
        ("iris/versions/9", {"instances": [[1, 2, 3, 4]]}, 404, "has no version 9"),
        ("iris/labels/nope", {"instances": [[1, 2, 3, 4]]}, 400, "has no alias 'nope'"),
        ("nope", {"instances": [[1, 2, 3, 4]]}, 404, "unknown model 'nope'"),
        ("echo", {"instances": [{"b64": "***"}]}, 400, "invalid base64"),
    ],
)
def test_errors_in_tf_serving_shape(
    server: Server, path: str, body: object, status: int, phrase: str
) -> None:
    response = _predict(server, path, body)
    assert response.status_code == status, response.text
    assert list(response.json()) == ["error"] and phrase in response.json()["error"]
