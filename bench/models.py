"""Train the bench models and convert them with modelport's own converter.

Every model goes through `converters.pipeline.convert_file`, so the artifacts are exactly
what `modelport convert` would publish. The repository lives in a temporary directory.

Two iris variants: `iris` is fitted on a float array (one input `input` [-1, 4] FP32) and
`iris-frame` on a 4-column DataFrame (four inputs [-1, 1]). The comparisons with the raw
floor and MLServer use `iris`: the same one-tensor V2 body goes to all three servers, and
MLServer's sklearn runtime hands that tensor to `predict` as one array (a DataFrame-fitted
model would warn about feature names on every call there).
"""

from __future__ import annotations

import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from converters.pipeline import convert_file
from model_repo import Repository

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
MLP_FEATURES = 64
MLP_WIDTH = 512
# Models the ONNX-only repository of T6 holds.
ONNX_ONLY = ("iris", "iris-frame", "mlp")


@dataclass(frozen=True)
class Prepared:
    """What the scenarios need: the repositories and the source files."""

    repo: Path  # every bench model
    onnx_repo: Path  # ONNX models only (T6)
    sources: Path
    iris_joblib: Path  # array-fitted iris, for MLServer

    def artifact(self, name: str) -> Path:
        repository = Repository(self.repo)
        manifest = repository.manifest(name, repository.latest(name))
        return self.repo / name / str(manifest.version) / manifest.artifact


def _iris_data() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_iris

    x, y = load_iris(return_X_y=True)
    return x.astype(np.float32), y


def iris_models(folder: Path) -> tuple[Path, Path]:
    """An array-fitted (joblib) and a DataFrame-fitted (skops) LogisticRegression."""
    import joblib
    import pandas as pd
    import skops.io
    from sklearn.linear_model import LogisticRegression

    x, y = _iris_data()
    array_model = LogisticRegression(max_iter=1000).fit(x, y)
    joblib.dump(array_model, folder / "iris.joblib")
    frame = pd.DataFrame(x, columns=IRIS_COLUMNS)
    frame_model = LogisticRegression(max_iter=1000).fit(frame, y)
    skops.io.dump(frame_model, folder / "iris-frame.skops")
    return folder / "iris.joblib", folder / "iris-frame.skops"


def mlp_model(folder: Path) -> Path:
    """Three dense layers of 512 (ReLU) and a 10-way head, as a torch.export program."""
    import torch

    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    width = MLP_FEATURES
    for _ in range(3):
        layers += [torch.nn.Linear(width, MLP_WIDTH), torch.nn.ReLU()]
        width = MLP_WIDTH
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 10)).eval()
    example = (torch.randn(8, MLP_FEATURES),)
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, example, dynamic_shapes=({0: batch},))
    torch.export.save(program, folder / "mlp.pt2")
    return folder / "mlp.pt2"


def keras_model(folder: Path) -> Path:
    """A small iris-shaped Keras classifier (4 -> 16 -> 3)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="scores")(hidden)
    model = keras.Model(inputs, outputs)
    model.save(folder / "iris.keras")
    return folder / "iris.keras"


MODELS = ("iris", "iris-frame", "iris-pmml", "mlp", "mlp-batched", "keras")


def prepare(workdir: Path) -> Prepared:
    """Train, convert and publish every bench model under `workdir` (kept when present)."""
    sources, repo_root = workdir / "sources", workdir / "repo"
    sources.mkdir(parents=True, exist_ok=True)
    repo = Repository(repo_root)
    if all(repo.versions(name) for name in MODELS):
        print(f"  reusing the models in {repo_root}", flush=True)
    else:
        _build(repo, sources)
    onnx_repo = _onnx_only(repo_root, workdir / "onnx-repo")
    return Prepared(repo_root, onnx_repo, sources, sources / "iris.joblib")


def _build(repo: Repository, sources: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iris_joblib, iris_skops = iris_models(sources)
        mlp = mlp_model(sources)
        plan = [
            ("iris", iris_joblib, "onnx"),
            ("iris-frame", iris_skops, "onnx"),
            ("iris-pmml", iris_joblib, "pmml"),
            ("mlp", mlp, "onnx"),
            ("mlp-batched", mlp, "onnx"),
            ("keras", keras_model(sources), "savedmodel"),
        ]
        for name, path, target in plan:
            print(f"  converting {name} ({path.name} -> {target})", flush=True)
            convert_file(repo, path, name, target)


def _onnx_only(repo_root: Path, dest: Path) -> Path:
    """A copy of the ONNX models' published directories (they are immutable files)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for name in ONNX_ONLY:
        shutil.copytree(repo_root / name, dest / name)
    return dest
