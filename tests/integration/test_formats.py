"""Every artifact format served and compared with its source model; every server-side conversion.

One server for the module: it converts the uploaded PMML, TensorFlow and PyTorch models
itself (with the parity check), then serves them and their artifacts uploaded as they are.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.integration.models import IRIS_COLUMNS, Sources, iris_rows
from tests.integration.servers import MODELPORT, ROOT, Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-formats")
needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="PMML needs Java")
needs_tf = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None, reason="needs the tensorflow extra"
)
needs_torch = pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="needs the torch extra"
)


@pytest.fixture(scope="module")
def server(
    repo_copy: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("formats-log") / "server.log"
    with running_server(repo_copy("formats"), log) as running:
        yield running


def upload(server: Server, name: str, path: Path, **fields: str) -> dict[str, Any]:
    with path.open("rb") as handle:
        response = httpx.post(
            f"{server.url}/v2/repository/models/{name}/versions",
            files={"file": (path.name, handle)},
            data=fields,
            headers=server.admin,
            timeout=300,
        )
    assert response.status_code == 201, response.text
    manifest: dict[str, Any] = response.json()
    return manifest


def infer(server: Server, model: str, inputs: list[dict[str, Any]]) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/v2/models/{model}/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def column_inputs(rows: np.ndarray) -> list[dict[str, Any]]:
    return [
        {"name": c, "datatype": "FP32", "shape": [len(rows), 1], "data": rows[:, i].tolist()}
        for i, c in enumerate(IRIS_COLUMNS)
    ]


def outputs_of(body: dict[str, Any]) -> dict[str, np.ndarray]:
    return {o["name"]: np.asarray(o["data"]).reshape(o["shape"]) for o in body["outputs"]}


def test_onnx_matches_the_source(server: Server, sources: Sources) -> None:
    rows = iris_rows(sources)
    got = outputs_of(infer(server, "iris", column_inputs(rows)))
    frame = sources.iris_x.iloc[::30].head(len(rows))
    np.testing.assert_array_equal(got["label"], sources.columns_model.predict(frame))
    np.testing.assert_allclose(
        got["probabilities"], sources.columns_model.predict_proba(frame), rtol=1e-5, atol=1e-5
    )


# ---- PMML ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pmml(server: Server, sources: Sources) -> dict[str, Any]:
    """The columns classifier converted to PMML by the server (the same source as iris v1)."""
    return upload(server, "iris_pmml", sources.columns_file, to="pmml")


@pytest.mark.pmml
@needs_java
def test_pmml_conversion_on_the_server_matches_the_source(
    server: Server, sources: Sources, pmml: dict[str, Any]
) -> None:
    assert pmml["format"] == "pmml" and pmml["parity"]["passed"] is True
    assert pmml["provenance"]["converter"] == "sklearn_pmml"
    rows = iris_rows(sources)
    got = outputs_of(infer(server, "iris_pmml", column_inputs(rows)))
    assert_answers_like_the_column_model(got, sources, len(rows))


@pytest.mark.pmml
@needs_java
def test_onnx_and_pmml_of_one_classifier_answer_alike(
    server: Server, sources: Sources, pmml: dict[str, Any]
) -> None:
    request = column_inputs(iris_rows(sources, 5))
    onnx, from_pmml = infer(server, "iris", request), infer(server, "iris_pmml", request)
    schema = [(o["name"], o["datatype"], o["shape"]) for o in onnx["outputs"]]
    assert schema == [(o["name"], o["datatype"], o["shape"]) for o in from_pmml["outputs"]]
    a, b = outputs_of(onnx), outputs_of(from_pmml)
    np.testing.assert_array_equal(a["label"], b["label"])
    np.testing.assert_allclose(a["probabilities"], b["probabilities"], rtol=1e-5, atol=1e-5)
    metadata = [httpx.get(f"{server.url}/v2/models/{m}").json() for m in ("iris", "iris_pmml")]
    assert [m["platform"] for m in metadata] == ["onnx_onnxv1", "pmml"]
    assert metadata[0]["inputs"] == metadata[1]["inputs"]
    assert metadata[0]["outputs"] == metadata[1]["outputs"]


@pytest.mark.pmml
@needs_java
def test_pmml_artifact_upload(server: Server, pmml: dict[str, Any], tmp_path: Path) -> None:
    artifact = tmp_path / "iris.pmml"
    shutil.copyfile(server.repo / "iris_pmml" / str(pmml["version"]) / "model.pmml", artifact)
    manifest = upload(server, "pmml_as_is", artifact)
    assert manifest["format"] == "pmml" and manifest["parity"] is None
    assert manifest["provenance"]["framework"] == "pmml"
    request = column_inputs(np.array([[5.9, 3.0, 5.1, 1.8]], dtype=np.float32))
    assert outputs_of(infer(server, "pmml_as_is", request))["label"].tolist() == [2]


# ---- TensorFlow SavedModel ---------------------------------------------------------------


@pytest.fixture(scope="module")
def keras_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    path = tmp_path_factory.mktemp("keras") / "dense.keras"
    model.save(path)
    return path, model


@pytest.fixture(scope="module")
def savedmodel(server: Server, keras_model: tuple[Path, Any]) -> dict[str, Any]:
    return upload(server, "dense", keras_model[0], to="savedmodel")


def _one_input(server: Server, model: str, rows: np.ndarray) -> np.ndarray:
    metadata = httpx.get(f"{server.url}/v2/models/{model}").json()
    (spec,) = metadata["inputs"]
    tensor = {"name": spec["name"], "datatype": "FP32", "shape": list(rows.shape)}
    body = infer(server, model, [{**tensor, "data": rows.ravel().tolist()}])
    return np.asarray(body["outputs"][0]["data"]).reshape(body["outputs"][0]["shape"])


@pytest.mark.tensorflow
@needs_tf
def test_keras_conversion_on_the_server_matches_the_source(
    server: Server, keras_model: tuple[Path, Any], savedmodel: dict[str, Any]
) -> None:
    assert savedmodel["format"] == "savedmodel" and savedmodel["parity"]["passed"] is True
    rows = np.random.default_rng(3).standard_normal((6, 4)).astype(np.float32)
    expected = np.asarray(keras_model[1](rows))
    np.testing.assert_allclose(_one_input(server, "dense", rows), expected, rtol=1e-5, atol=1e-6)
    assert httpx.get(f"{server.url}/v2/models/dense").json()["platform"] == "tensorflow_savedmodel"


def _archive(source: Path, target: Path) -> Path:
    if target.name.endswith(".zip"):
        with zipfile.ZipFile(target, "w") as archive:
            for path in sorted(source.rglob("*")):
                archive.write(path, Path("model") / path.relative_to(source))
    else:
        with tarfile.open(target, "w:gz") as archive:
            archive.add(source, arcname=".")
    return target


def _matches_keras(server: Server, name: str, keras_model: tuple[Path, Any]) -> None:
    rows = np.random.default_rng(4).standard_normal((3, 4)).astype(np.float32)
    expected = np.asarray(keras_model[1](rows))
    np.testing.assert_allclose(_one_input(server, name, rows), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.tensorflow
@needs_tf
@pytest.mark.parametrize(
    ("suffix", "to"), [(".zip", None), (".tar.gz", None), (".tgz", "savedmodel")]
)
def test_savedmodel_archive_upload(
    server: Server,
    keras_model: tuple[Path, Any],
    savedmodel: dict[str, Any],
    tmp_path: Path,
    suffix: str,
    to: str | None,
) -> None:
    """As is, or (with to=savedmodel) converted again from the SavedModel in the archive."""
    folder = server.repo / "dense" / str(savedmodel["version"]) / "saved_model"
    name = "sm" + suffix.replace(".", "_")
    fields = {"to": to} if to else {}
    manifest = upload(server, name, _archive(folder, tmp_path / f"model{suffix}"), **fields)
    assert manifest["format"] == "savedmodel"
    if to is None:
        assert manifest["parity"] is None and manifest["provenance"]["framework"] == "savedmodel"
    else:
        assert manifest["parity"]["passed"] and manifest["provenance"]["framework"] == "tensorflow"
    _matches_keras(server, name, keras_model)


@pytest.mark.tensorflow
@needs_tf
def test_cli_pushes_a_savedmodel_directory(
    server: Server, keras_model: tuple[Path, Any], savedmodel: dict[str, Any]
) -> None:
    folder = server.repo / "dense" / str(savedmodel["version"]) / "saved_model"
    pushed = subprocess.run(
        [*MODELPORT, "push", folder, "--name", "sm_dir", "--url", server.url,
         "--token", server.admin_token],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert "published sm_dir version 1 (savedmodel)" in pushed.stdout
    _matches_keras(server, "sm_dir", keras_model)


# ---- PyTorch -> ONNX ---------------------------------------------------------------------


@pytest.mark.torch
@needs_torch
def test_torch_conversion_on_the_server_matches_the_source(server: Server, tmp_path: Path) -> None:
    import torch

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    batch = torch.export.Dim("batch")
    program = torch.export.export(module, (torch.randn(8, 4),), dynamic_shapes=({0: batch},))
    torch.export.save(program, tmp_path / "mlp.pt2")
    manifest = upload(server, "mlp", tmp_path / "mlp.pt2", to="onnx")
    assert manifest["provenance"]["framework"] == "torch" and manifest["parity"]["passed"]
    rows = np.random.default_rng(5).standard_normal((5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(rows)).numpy()
    np.testing.assert_allclose(_one_input(server, "mlp", rows), expected, rtol=1e-5, atol=1e-6)


# ---- tritonclient's binary defaults on every format --------------------------------------


def _triton_binary(server: Server, model: str, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    import tritonclient.http as triton_http

    client = triton_http.InferenceServerClient(server.host_port)
    try:
        inputs = []
        for name, array in arrays.items():
            tensor = triton_http.InferInput(name, list(array.shape), "FP32")
            tensor.set_data_from_numpy(array)  # binary_data=True: the default
            inputs.append(tensor)
        result = client.infer(model, inputs)
        response = result.get_response()
        assert all("binary_data_size" in o["parameters"] for o in response["outputs"])
        return {o["name"]: result.as_numpy(o["name"]) for o in response["outputs"]}
    finally:
        client.close()


@pytest.mark.pmml
@needs_java
def test_tritonclient_binary_on_pmml(
    server: Server, sources: Sources, pmml: dict[str, Any]
) -> None:
    rows = iris_rows(sources)
    got = _triton_binary(server, "iris_pmml", {c: rows[:, [i]] for i, c in enumerate(IRIS_COLUMNS)})
    assert_answers_like_the_column_model(got, sources, len(rows))


@pytest.mark.tensorflow
@needs_tf
def test_tritonclient_binary_on_savedmodel(
    server: Server, keras_model: tuple[Path, Any], savedmodel: dict[str, Any]
) -> None:
    rows = np.random.default_rng(6).standard_normal((4, 4)).astype(np.float32)
    (spec,) = savedmodel["signature"]["inputs"]
    (output,) = _triton_binary(server, "dense", {spec["name"]: rows}).values()
    expected = np.asarray(keras_model[1](rows))
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)


def assert_answers_like_the_column_model(got: dict[str, Any], sources: Sources, rows: int) -> None:
    """The PMML artifact's answers to the iris rows `iris_rows` picks, against scikit-learn."""
    frame = sources.iris_x.iloc[::30].head(rows)
    np.testing.assert_array_equal(got["label"], sources.columns_model.predict(frame))
    np.testing.assert_allclose(
        got["probabilities"], sources.columns_model.predict_proba(frame), rtol=1e-6, atol=1e-7
    )
