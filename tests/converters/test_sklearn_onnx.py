from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from converters.errors import ParityFailure, SampleMismatch, UnsupportedConversion
from converters.pipeline import convert_file
from model_repo import Repository
from tests.sklearn_cases import cases


def _tensors(frame: Any, signature_inputs: list[str]) -> dict[str, np.ndarray]:
    if signature_inputs == ["input"]:
        return {"input": np.asarray(frame, dtype=np.float32)}
    out = {}
    for name in signature_inputs:
        column = frame[name].to_numpy().reshape(-1, 1)
        out[name] = column.astype(object) if column.dtype == object else column.astype(np.float32)
    return out


@pytest.mark.parametrize("case", [c.name for c in cases()])
def test_parity_and_served_predictions_match_sklearn(
    tmp_path: Path, case: str, sklearn_files: dict[str, tuple[Path, Any]], sklearn_data: Any
) -> None:
    path, model = sklearn_files[case]
    repo = Repository(tmp_path)
    manifest = convert_file(repo, path, case, "onnx")
    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.parity.sample_source.startswith("synthesized:")
    assert manifest.provenance.converter == "sklearn_onnx"
    assert manifest.provenance.libraries["scikit-learn"]

    data_key = next(c.data for c in cases() if c.name == case)
    fresh = sklearn_data[data_key][2]
    _, predictor = repo.open(case, manifest.version)
    got = predictor.predict(_tensors(fresh, manifest.signature.input_names))
    tolerance = manifest.parity.tolerance
    if "label" in got:
        expected_labels = model.predict(fresh)
        agreement = np.mean(got["label"].astype(str) == expected_labels.astype(str))
        assert agreement >= 1 - tolerance.mismatch_budget - 1e-9
        probabilities = model.predict_proba(fresh)
        assert got["probabilities"].shape == probabilities.shape
        assert got["probabilities"].dtype == np.float32
        close = np.isclose(got["probabilities"], probabilities, rtol=1e-4, atol=1e-5)
        assert close.mean() >= 1 - tolerance.mismatch_budget - 1e-9
        assert manifest.labels == tuple(model.classes_.tolist())
    else:
        prediction = model.predict(np.asarray(fresh, dtype=np.float32).astype(np.float64))
        assert got["prediction"].shape == prediction.shape
        np.testing.assert_allclose(got["prediction"], prediction, rtol=1e-4, atol=1e-3)


def test_tabular_signature_has_one_input_per_column_and_string_labels(
    tmp_path: Path, sklearn_files: dict[str, tuple[Path, Any]]
) -> None:
    manifest = convert_file(Repository(tmp_path), sklearn_files["columns"][0], "tab", "onnx")
    inputs = {(t.name, t.datatype, t.shape) for t in manifest.signature.inputs}
    assert inputs == {
        ("color", "BYTES", (-1, 1)),
        ("size", "FP32", (-1, 1)),
        ("weight", "FP32", (-1, 1)),
    }
    outputs = [(t.name, t.datatype, t.shape) for t in manifest.signature.outputs]
    assert outputs == [("label", "BYTES", (-1,)), ("probabilities", "FP32", (-1, 2))]
    assert manifest.labels == ("no", "yes")


def test_csv_sample_is_used_and_recorded(
    tmp_path: Path, sklearn_files: dict[str, tuple[Path, Any]], sklearn_data: Any
) -> None:
    sample = tmp_path / "sample.csv"
    sklearn_data["tabular"][2].to_csv(sample, index=False)
    manifest = convert_file(
        Repository(tmp_path / "repo"),
        sklearn_files["columns"][0],
        "tab",
        "onnx",
        sample_path=sample,
    )
    assert manifest.parity is not None
    assert manifest.parity.sample_source == "file:sample.csv"
    assert manifest.parity.sample_size == len(sklearn_data["tabular"][2])


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"color": ["red"], "size": [1.0]}), "lacks column(s) weight"),
        (
            pd.DataFrame({"color": ["red"], "size": ["big"], "weight": [1.0]}),
            "column 'size' must be FP32",
        ),
        (pd.DataFrame({"color": [], "size": [], "weight": []}), "has no rows"),
    ],
)
def test_sample_that_does_not_fit_is_refused(
    tmp_path: Path, sklearn_files: dict[str, tuple[Path, Any]], frame: pd.DataFrame, message: str
) -> None:
    sample = tmp_path / "sample.csv"
    frame.to_csv(sample, index=False)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(SampleMismatch, match=re.escape(message)):
        convert_file(repo, sklearn_files["columns"][0], "tab", "onnx", sample_path=sample)
    assert repo.versions("tab") == []


def test_array_sample_with_wrong_width_is_refused(
    tmp_path: Path, sklearn_files: dict[str, tuple[Path, Any]]
) -> None:
    sample = tmp_path / "sample.npy"
    np.save(sample, np.zeros((5, 3)))
    with pytest.raises(SampleMismatch, match=r"shape \[5, 3\], the model expects \[-1, 6\]"):
        convert_file(
            Repository(tmp_path), sklearn_files["forest"][0], "f", "onnx", sample_path=sample
        )


def test_step_without_onnx_converter_names_step_and_other_formats(tmp_path: Path) -> None:
    import skops.io
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    x = np.linspace(0, 1, 50).reshape(-1, 1)
    model = make_pipeline(SplineTransformer(), Ridge()).fit(x, x.ravel() ** 2)
    path = tmp_path / "spline.skops"
    skops.io.dump(model, path)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(UnsupportedConversion) as info:
        convert_file(repo, path, "spline", "onnx")
    message = str(info.value)
    assert "Pipeline/splinetransformer" in message
    assert "SplineTransformer" in message and "has no onnx converter" in message
    assert repo.versions("spline") == []


def _cancelling_regression(tmp_path: Path) -> Path:
    """A linear model whose float32 evaluation loses the answer to cancellation."""
    import skops.io
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    base = 1e6 + rng.normal(0, 1, 200)
    x = np.column_stack([base, base + rng.normal(0, 1, 200)])
    model = LinearRegression().fit(x, 1000 * (x[:, 0] - x[:, 1]))
    path = tmp_path / "cancel.skops"
    skops.io.dump(model, path)
    sample = tmp_path / "cancel.npy"
    np.save(sample, x[:50])
    return path


def test_parity_failure_publishes_nothing_and_shows_worst_rows(tmp_path: Path) -> None:
    path = _cancelling_regression(tmp_path)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(ParityFailure) as info:
        convert_file(repo, path, "cancel", "onnx", sample_path=tmp_path / "cancel.npy")
    message = str(info.value)
    assert "parity check failed" in message and "output 'prediction'" in message
    assert "source " in message and "artifact " in message and "Nothing was published" in message
    assert not info.value.report.passed
    assert repo.versions("cancel") == []


def test_forced_publish_records_the_failure(tmp_path: Path) -> None:
    path = _cancelling_regression(tmp_path)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(
        repo, path, "cancel", "onnx", sample_path=tmp_path / "cancel.npy", force=True
    )
    stored = repo.manifest("cancel", manifest.version)
    assert stored.parity is not None
    assert stored.parity.forced and not stored.parity.passed
    assert stored.parity.outputs["prediction"].mismatches > 0


def test_encoder_over_numeric_and_string_columns_types_each_column(tmp_path: Path) -> None:
    import skops.io
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "grade": rng.integers(1, 5, 200).astype(float),
            "x": rng.normal(size=200),
            "kind": rng.choice(["a", "b"], 200),
        }
    )
    columns = ColumnTransformer(
        [
            ("cats", OneHotEncoder(handle_unknown="ignore"), ["grade", "kind"]),
            ("num", StandardScaler(), ["x"]),
        ]
    )
    model = make_pipeline(columns, LogisticRegression())
    model.fit(frame, (frame["x"] + frame["grade"] > 2.5).astype(int))
    path = tmp_path / "mixed.skops"
    skops.io.dump(model, path)
    manifest = convert_file(Repository(tmp_path / "repo"), path, "mixed", "onnx")
    types = {t.name: t.datatype for t in manifest.signature.inputs}
    assert types == {"grade": "FP32", "x": "FP32", "kind": "BYTES"}
    assert manifest.parity is not None and manifest.parity.passed
    # The sample drew grades from the encoder's own categories, so they were all known.
    assert manifest.parity.outputs["probabilities"].max_abs_error < 1e-5
