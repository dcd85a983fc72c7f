"""MLflow model directories as a source: read without MLflow, converted with the parity check.

The directories are written as mlflow.sklearn / mlflow.pytorch / mlflow.keras save them
(tests/mlflow_dirs.py); the artifacts are opened with the runtimes that serve them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from converters.errors import ModelLoadError, SampleMismatch
from converters.loading import framework_of, load_source
from converters.pipeline import convert_file
from model_repo.formats import get_format
from model_repo.manifest import Manifest
from model_repo.repository import Repository, source_digest
from tests.mlflow_dirs import (
    keras_dir,
    pyfunc,
    pytorch_dir,
    sklearn_dir,
    write_mlmodel,
)

COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(scope="module")
def iris() -> tuple[Any, pd.DataFrame]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_iris(as_frame=True)
    frame = data.data.set_axis(COLUMNS, axis=1)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return model.fit(frame, data.target), frame


def _serve(repo: Repository, manifest: Manifest, inputs: dict[str, np.ndarray]) -> Any:
    fmt = get_format(manifest.format)
    predictor = fmt.open(repo.version_dir(manifest.name, manifest.version) / manifest.artifact)
    try:
        return predictor.predict(inputs)
    finally:
        predictor.close()


def test_an_mlflow_skops_sklearn_model_converts_with_its_example_in_the_parity_sample(
    tmp_path: Path, iris: tuple[Any, pd.DataFrame]
) -> None:
    model, frame = iris
    example = frame.head(5)
    directory = sklearn_dir(tmp_path / "iris_model", model, "skops", example)
    repo = Repository(tmp_path / "repo")

    manifest = convert_file(repo, directory, "iris", "onnx", allow_pickle=False)

    assert manifest.provenance.source_file == "iris_model"
    assert manifest.provenance.source_sha256 == source_digest(directory)
    mlflow = manifest.notes["mlflow"]
    assert (mlflow["flavor"], mlflow["artifact"], mlflow["serialization"]) == (
        "sklearn",
        "model.skops",
        "skops",
    )
    assert mlflow["signature"] == "matches the artifact's inputs"
    assert manifest.signature.input_names == COLUMNS  # the model's fitted columns
    parity = manifest.parity
    assert parity is not None and parity.passed
    assert parity.sample_source.startswith("file:iris_model/input_example.json (5 rows) + ")
    assert parity.sample_size == 5 + 256
    served = _serve(repo, manifest, {c: example[[c]].to_numpy(np.float32) for c in COLUMNS})
    assert served["label"].tolist() == model.predict(example).tolist()


def test_an_mlflow_pickle_is_refused_unless_pickles_are_allowed(
    tmp_path: Path, iris: tuple[Any, pd.DataFrame]
) -> None:
    model, frame = iris
    directory = sklearn_dir(tmp_path / "pickled", model, "cloudpickle", frame.head(3))
    repo = Repository(tmp_path / "repo")
    with pytest.raises(ModelLoadError, match=r"serialized with cloudpickle.*--allow-pickle"):
        convert_file(repo, directory, "iris", "onnx", allow_pickle=False)
    assert repo.models() == []

    manifest = convert_file(repo, directory, "iris", "onnx", allow_pickle=True)
    assert manifest.notes["mlflow"]["serialization"] == "cloudpickle"
    assert manifest.parity is not None and manifest.parity.passed


def test_the_serialization_format_in_mlmodel_decides_not_the_file_name(
    tmp_path: Path, iris: tuple[Any, pd.DataFrame]
) -> None:
    model, frame = iris
    # A skops file called model.pkl: read with skops, so no pickle is involved.
    directory = sklearn_dir(tmp_path / "named_pkl", model, "skops", frame.head(3), "model.pkl")
    source = load_source(directory, allow_pickle=False)
    assert source.kind == "skops" and source.path.name == "model.pkl"
    assert framework_of(directory) == "sklearn"


def test_a_signature_that_disagrees_with_the_model_is_recorded_not_obeyed(
    tmp_path: Path, iris: tuple[Any, pd.DataFrame]
) -> None:
    model, frame = iris
    # Signature and example (which MLflow infers the signature from) name a column otherwise.
    renamed = frame.head(3).rename(columns={"petal_width": "petal width (cm)"})
    directory = sklearn_dir(tmp_path / "renamed", model, "skops", renamed)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(SampleMismatch, match=r"renamed/input_example.json lacks column"):
        convert_file(repo, directory, "iris", "onnx")  # such an example cannot be a sample
    assert repo.models() == []
    sample = tmp_path / "rows.csv"
    frame.head(20).to_csv(sample, index=False)
    manifest = convert_file(repo, directory, "iris", "onnx", sample_path=sample)
    assert manifest.notes["mlflow"]["signature"] == [
        "input 'petal_width' is not a column of the signature",
        "signature column 'petal width (cm)' is not an input",
    ]


def _mlp(seed: int = 0) -> Any:
    import torch

    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


@pytest.mark.torch
def test_an_mlflow_torchscript_model_needs_no_sample_its_signature_gives_the_shapes(
    tmp_path: Path,
) -> None:
    import torch

    example = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    module = _mlp().eval()
    directory = pytorch_dir(tmp_path / "mlp", module, "torchscript", example)
    repo = Repository(tmp_path / "repo")

    manifest = convert_file(repo, directory, "mlp", "onnx", allow_pickle=False)

    assert manifest.notes["mlflow"]["serialization"] == "torch"
    assert manifest.notes["mlflow"]["artifact"] == "data/model.pth"
    assert [t.to_dict() for t in manifest.signature.inputs] == [
        {"name": "input", "datatype": "FP32", "shape": [-1, 4]}
    ]
    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.parity.sample_size == 5 + 256
    with torch.no_grad():
        expected = module(torch.from_numpy(example)).numpy()
    got = _serve(repo, manifest, {"input": example})["output"]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.torch
def test_an_mlflow_torch_export_program_converts(tmp_path: Path) -> None:
    example = np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)
    directory = pytorch_dir(tmp_path / "exported", _mlp(1).eval(), "pt2", example)
    manifest = convert_file(Repository(tmp_path / "repo"), directory, "mlp", "onnx")
    assert manifest.notes["mlflow"]["serialization"] == "pt2"
    assert manifest.parity is not None and manifest.parity.passed


@pytest.mark.torch
def test_an_mlflow_torch_save_pickle_is_refused_even_where_pickles_are_allowed(
    tmp_path: Path,
) -> None:
    example = np.zeros((2, 4), dtype=np.float32)
    directory = pytorch_dir(tmp_path / "eager", _mlp().eval(), "pickle", example)
    with pytest.raises(ModelLoadError, match=r"eager \(MLflow pytorch flavor\).*torch\.save"):
        load_source(directory, allow_pickle=True)


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    ("flavor", "artifact"),
    [
        ("keras", "data/model.keras"),
        ("keras-exported", "data/model"),
        ("tensorflow", "data/model.keras"),
    ],
)
def test_an_mlflow_keras_model_converts_to_savedmodel(
    tmp_path: Path, flavor: str, artifact: str
) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,), name="features"), keras.layers.Dense(3)])
    example = np.random.default_rng(2).standard_normal((4, 4)).astype(np.float32)
    directory = keras_dir(tmp_path / "scorer", model, example, flavor)
    repo = Repository(tmp_path / "repo")

    manifest = convert_file(repo, directory, "scorer", "savedmodel")

    assert manifest.notes["mlflow"]["flavor"] == flavor.removesuffix("-exported")
    assert manifest.notes["mlflow"]["artifact"] == artifact
    assert manifest.notes["mlflow"]["signature"] == "matches the artifact's inputs"
    assert manifest.parity is not None and manifest.parity.passed
    (name,) = manifest.signature.input_names
    got = _serve(repo, manifest, {name: example})["output_0"]
    np.testing.assert_allclose(got, model(example).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("flavors", "message"),
    [
        (
            {"sklearn": {"pickled_model": "../outside.skops", "serialization_format": "skops"}},
            "points outside the model directory",
        ),
        (
            {"sklearn": {"pickled_model": "/etc/passwd", "serialization_format": "skops"}},
            "points outside the model directory",
        ),
        (
            {"sklearn": {"pickled_model": "absent.skops", "serialization_format": "skops"}},
            "'absent.skops' does not exist",
        ),
        (
            {"sklearn": {"pickled_model": "MLmodel", "serialization_format": "joblib"}},
            "serialization_format 'joblib' unknown",
        ),
        (
            {"python_function": pyfunc("mlflow.pyfunc.model", python_model="python_model.pkl")},
            "custom pyfunc model is a cloudpickle",
        ),
        ({"pytorch": {"model_data": "."}}, "should hold one model file.*none"),
    ],
)
def test_an_mlmodel_that_cannot_be_trusted_or_read_is_refused_by_name(
    tmp_path: Path, flavors: dict[str, Any], message: str
) -> None:
    directory = write_mlmodel(tmp_path / "bad", flavors)
    with pytest.raises(ModelLoadError, match=message):
        load_source(directory)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("flavors: [unclosed", "is not valid YAML"),
        ("!!python/object/apply:os.system ['true']", "is not valid YAML"),
        ("- a list", "is not a YAML mapping"),
        ("artifact_path: model", "names no flavors"),
    ],
)
def test_an_mlmodel_that_is_not_plain_yaml_is_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    directory = tmp_path / "bad"
    directory.mkdir()
    (directory / "MLmodel").write_text(text)
    with pytest.raises(ModelLoadError, match=message):
        load_source(directory)
