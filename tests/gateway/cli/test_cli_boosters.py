"""`modelport convert` on XGBoost and LightGBM models through a real subprocess: a native
booster file converts with no flag, and a missing extra is exit code 5 naming it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.gateway.cli.test_cli import run

xgboost = pytest.importorskip("xgboost")
pytest.importorskip("onnxmltools")


def _without(module: str) -> list[str]:
    """The CLI's entry point in a Python where `module` cannot be imported."""
    return [
        sys.executable,
        "-c",
        f"import sys; sys.modules[{module!r}] = None; from gateway.cli import main; main()",
    ]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import skops.io

    folder = tmp_path_factory.mktemp("cli-boosters")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    y = (x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1)
    booster = xgboost.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
        xgboost.DMatrix(x, y),
        5,
    )
    booster.save_model(folder / "model.ubj")
    wrapper = xgboost.XGBClassifier(n_estimators=5, max_depth=2).fit(x, y)
    skops.io.dump(wrapper, folder / "wrapper.skops")
    return {"native": folder / "model.ubj", "wrapper": folder / "wrapper.skops"}


def test_convert_a_native_xgboost_file_then_show_it(tmp_path: Path, files: dict[str, Path]) -> None:
    repo = tmp_path / "repo"
    done = run("convert", files["native"], "--name", "boost", "--to", "onnx", "--repo", repo)
    assert done.returncode == 0, done.stderr
    assert "published boost version 1 (onnx)" in done.stdout and "parity passed" in done.stdout
    shown = json.loads(run("models", "show", "boost", "--repo", repo).stdout)
    assert shown["provenance"]["framework"] == "xgboost"
    assert shown["provenance"]["source_file"] == "model.ubj"
    assert shown["labels"] == [0, 1, 2]
    assert "class indices 0..n-1" in shown["notes"]["native_model"]


@pytest.mark.parametrize(
    ("model", "missing", "phrases"),
    [
        ("native", "xgboost", ("XGBoost is not installed",)),
        ("wrapper", "xgboost", ("the model needs XGBoost, which is not installed",)),
        ("wrapper", "onnxmltools", ("converting XGBoost models to ONNX needs onnxmltools",)),
    ],
)
def test_a_missing_extra_is_exit_code_5_naming_it(
    tmp_path: Path, files: dict[str, Path], model: str, missing: str, phrases: tuple[str, ...]
) -> None:
    repo = tmp_path / "repo"
    result = run(
        "convert", files[model], "--name", "b", "--to", "onnx", "--repo", repo,
        command=_without(missing),
    )  # fmt: skip
    assert result.returncode == 5, (result.stdout, result.stderr)
    message = " ".join(result.stderr.split())
    for phrase in (*phrases, "pip install 'modelport[xgboost]'"):
        assert phrase in message, message
    assert "Traceback" not in result.stderr
    assert not (repo / "b").exists()
