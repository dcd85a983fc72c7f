"""Real models and artifacts for the gateway's end-to-end tests."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_repo.aliases import AliasTarget
from model_repo.repository import Repository

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
# Every V2 datatype, with the ONNX element type an Identity node passes through.
ONNX_TYPES = {
    "BOOL": 9,
    "UINT8": 2,
    "UINT16": 4,
    "UINT32": 12,
    "UINT64": 13,
    "INT8": 3,
    "INT16": 5,
    "INT32": 6,
    "INT64": 7,
    "FP16": 10,
    "FP32": 1,
    "FP64": 11,
    "BYTES": 8,
}


@dataclass(frozen=True)
class Sources:
    folder: Path
    iris_x: Any  # DataFrame
    columns_model: Any  # LogisticRegression fitted on the DataFrame: one input per column
    array_model: Any  # LogisticRegression fitted on an array: one input [-1, 4]

    @property
    def columns_file(self) -> Path:
        return self.folder / "iris_columns.skops"

    @property
    def array_file(self) -> Path:
        return self.folder / "iris_array.skops"


def train_sources(folder: Path) -> Sources:
    import skops.io
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris(as_frame=True)
    x = iris.data.set_axis(IRIS_COLUMNS, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of a tiny fit
        columns = LogisticRegression(max_iter=1000).fit(x, iris.target)
        array = LogisticRegression(max_iter=1000, C=0.5).fit(x.to_numpy(), iris.target)
    sources = Sources(folder, x, columns, array)
    skops.io.dump(columns, sources.columns_file)
    skops.io.dump(array, sources.array_file)
    return sources


def identity_onnx(path: Path, datatypes: list[str], shape: list[int | None]) -> None:
    """An ONNX graph passing `<type>_in` through to `<type>_out` for each datatype."""
    from onnx import helper, save

    inputs, outputs, nodes = [], [], []
    for datatype in datatypes:
        name = datatype.lower()
        inputs.append(helper.make_tensor_value_info(f"{name}_in", ONNX_TYPES[datatype], shape))
        outputs.append(helper.make_tensor_value_info(f"{name}_out", ONNX_TYPES[datatype], shape))
        nodes.append(helper.make_node("Identity", [f"{name}_in"], [f"{name}_out"]))
    graph = helper.make_graph(nodes, "identity", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))


def sample_of(datatype: str, rows: int = 2) -> np.ndarray:
    """A [rows, 2] array of `datatype` holding values at the edges of its range."""
    if datatype == "BYTES":
        return np.array([["alpha", "βeta"], ["", "delta"]] * rows, dtype=object)[:rows]
    if datatype == "BOOL":
        return np.array([[True, False]] * rows)
    from model_repo.signature import numpy_dtype

    dtype = numpy_dtype(datatype)
    info = np.iinfo(dtype) if dtype.kind in "iu" else np.finfo(dtype)
    edges = [info.min, info.max] if dtype.kind in "iu" else [-1.5, 2.25]
    return np.array([edges] * rows, dtype=dtype)


def seed_repository(root: Path, sources: Sources) -> None:
    """iris (v1 stable, v2 canary), iris_array, every datatype, a string echo, a broken one."""
    from converters.pipeline import convert_file
    from gateway.control.artifacts import import_artifact

    repo = Repository(root)
    convert_file(repo, sources.columns_file, "iris", "onnx")
    convert_file(repo, sources.array_file, "iris", "onnx")  # v2: another model, other inputs
    repo.set_alias("iris", "stable", AliasTarget(version=1))
    repo.set_alias("iris", "canary", AliasTarget(version=2))
    convert_file(repo, sources.array_file, "iris_array", "onnx")
    identity_onnx(root / "types.onnx", list(ONNX_TYPES), [None, 2])
    import_artifact(repo, root / "types.onnx", "types", "onnx")
    identity_onnx(root / "echo.onnx", ["BYTES"], [None])
    import_artifact(repo, root / "echo.onnx", "echo", "onnx")
    broken = convert_file(repo, sources.array_file, "broken", "onnx")
    artifact = repo.artifact_path("broken", broken.version)
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    for leftover in ("types.onnx", "echo.onnx"):
        (root / leftover).unlink()


def iris_rows(sources: Sources, rows: int = 5) -> np.ndarray:
    return sources.iris_x.to_numpy(dtype=np.float32)[::30][:rows]


def keras_dense(path: Path) -> Any:
    """A small Keras classifier (4 -> 8 -> 3 softmax), saved at `path` (a .keras file)."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.save(path)
    return model


def upload(url: str, token: str, name: str, path: Path, **fields: str) -> dict[str, Any]:
    """Publish `path` through the server's upload endpoint (converted when `to` is given)."""
    import httpx

    with path.open("rb") as handle:
        response = httpx.post(
            f"{url}/v2/repository/models/{name}/versions",
            files={"file": (path.name, handle)},
            data=fields,
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,
        )
    assert response.status_code == 201, response.text
    manifest: dict[str, Any] = response.json()
    return manifest
