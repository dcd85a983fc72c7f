"""Train the demo models, convert them into a repository, list them, print a request for each.

    python -m demo.build_models --repo models

Models already in the repository are kept (pass --fresh to convert them again as new
versions). Source models and parity samples are written to demo/sources/.
"""

from __future__ import annotations

import argparse
import functools
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from converters.pipeline import convert_file
from model_repo import Repository
from model_repo.manifest import Manifest

DEFAULT_SOURCES = Path(__file__).parent / "sources"
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_classifier(folder: Path) -> tuple[Path, Path]:
    import skops.io
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    iris = load_iris(as_frame=True)
    x = iris.data.set_axis(IRIS_COLUMNS, axis=1)
    labels = pd.Series(np.asarray(iris.target_names)[iris.target])
    model = LogisticRegression(max_iter=1000).fit(x, labels)
    x.to_csv(folder / "iris_sample.csv", index=False)
    skops.io.dump(model, folder / "iris.skops")
    return folder / "iris.skops", folder / "iris_sample.csv"


def loan_pipeline(folder: Path) -> tuple[Path, Path]:
    """A tabular pipeline: string categories one-hot encoded, numbers scaled."""
    import skops.io
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    rows = 600
    frame = pd.DataFrame(
        {
            "purpose": rng.choice(["car", "home", "education", "business"], rows),
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "income": rng.lognormal(10.5, 0.4, rows).round(0),
            "debt_ratio": rng.uniform(0, 0.8, rows).round(3),
            "age": rng.integers(21, 70, rows).astype(float),
        }
    )
    score = 2 * (frame["income"] > 40_000) - 3 * frame["debt_ratio"] + (frame["purpose"] == "home")
    labels = np.where(score + rng.normal(0, 0.5, rows) > 0.5, "approve", "decline")
    columns = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), ["purpose", "region"]),
            ("numbers", StandardScaler(), ["income", "debt_ratio", "age"]),
        ]
    )
    model = make_pipeline(columns, GradientBoostingClassifier(n_estimators=50, random_state=0))
    model.fit(frame, labels)
    frame.head(200).to_csv(folder / "loan_sample.csv", index=False)
    skops.io.dump(model, folder / "loan.skops")
    return folder / "loan.skops", folder / "loan_sample.csv"


def torch_mlp(folder: Path) -> tuple[Path, None]:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 32),
        torch.nn.ReLU(),
        torch.nn.Linear(32, 3),
    ).eval()
    example = (torch.randn(4, 8),)
    program = torch.export.export(model, example, dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, folder / "mlp.pt2")
    return folder / "mlp.pt2", None


def keras_model(folder: Path) -> tuple[Path, None]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="features")
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax", name="scores")(hidden)
    model = keras.Model(inputs, outputs)
    model.save(folder / "scorer.keras")
    return folder / "scorer.keras", None


# name -> (builder, target format)
DEMOS: dict[str, tuple[Callable[[Path], tuple[Path, Path | None]], str]] = {
    "iris-onnx": (iris_classifier, "onnx"),
    "iris-pmml": (iris_classifier, "pmml"),
    "loan-onnx": (loan_pipeline, "onnx"),
    "loan-pmml": (loan_pipeline, "pmml"),
    "mlp-torch": (torch_mlp, "onnx"),
    "scorer-keras": (keras_model, "savedmodel"),
}


def build(repo: Repository, sources: Path, fresh: bool) -> list[Manifest]:
    sources.mkdir(parents=True, exist_ok=True)
    built: dict[str, tuple[Path, Path | None]] = {}
    manifests = []
    for name, (builder, target) in DEMOS.items():
        if repo.versions(name) and not fresh:
            version = repo.latest(name)
            print(f"{name}: already in {repo.root} (version {version}); --fresh converts again")
            manifests.append(repo.manifest(name, version))
            continue
        if builder.__name__ not in built:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                built[builder.__name__] = builder(sources)
        model_path, sample = built[builder.__name__]
        manifest = convert_file(
            repo,
            model_path,
            name,
            target,
            sample_path=sample,
            progress=functools.partial(_step, name),
        )
        errors = manifest.parity.outputs.values() if manifest.parity else ()
        worst = max((o.max_abs_error for o in errors), default=0.0)
        print(f"{name}: published v{manifest.version} ({target}), parity max abs error {worst:.2g}")
        manifests.append(manifest)
    return manifests


def _step(name: str, text: str) -> None:
    print(f"{name}: {text}")


def example_request(manifest: Manifest, sources: Path) -> str:
    """A V2 infer request body: the first row of the model's parity sample, when it has one."""
    import json

    source = manifest.provenance.source_file or ""
    sample = sources / source.replace(Path(source).suffix, "_sample.csv") if source else None
    row = pd.read_csv(sample).iloc[0] if sample is not None and sample.is_file() else None
    inputs = []
    for spec in manifest.signature.inputs:
        shape = [1 if d == -1 else d for d in spec.shape]
        count = int(np.prod(shape))
        if row is not None and spec.name in row.index:
            value = row[spec.name]
            data: list[object] = [value.item() if hasattr(value, "item") else value] * count
        else:
            data = [0.5] * count
        inputs.append({"name": spec.name, "datatype": spec.datatype, "shape": shape, "data": data})
    return json.dumps({"inputs": inputs})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", type=Path, default=Path("models"))
    parser.add_argument("--fresh", action="store_true", help="convert again as new versions")
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--sources", type=Path, default=DEFAULT_SOURCES, help="where models go")
    args = parser.parse_args()
    repo = Repository(args.repo)
    manifests = build(repo, args.sources, args.fresh)
    print(f"\nmodels in {repo.root}:")
    for manifest in manifests:
        names = ", ".join(t.name for t in manifest.signature.outputs)
        print(f"  {manifest.name:14} v{manifest.version}  {manifest.format:10} outputs: {names}")
    print("\nonce `modelport serve` runs, try:")
    for manifest in manifests:
        body = example_request(manifest, args.sources)
        print(f"  curl -s {args.url}/v2/models/{manifest.name}/infer -d '{body}'")


if __name__ == "__main__":
    main()
