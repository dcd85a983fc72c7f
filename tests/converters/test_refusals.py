"""What the converters cannot take, each refused with an error naming the cause and what to
do, before anything reaches the repository (real loaders, skl2onnx and onnxruntime)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from converters.errors import ModelLoadError, UnsupportedConversion
from converters.pipeline import convert_file
from model_repo import Repository


def _save(folder: Path, model: Any, name: str) -> Path:
    import skops.io

    path = folder / f"{name}.skops"
    skops.io.dump(model, path)
    return path


def _refused(tmp_path: Path, path: Path, error: type[Exception], message: str) -> None:
    repo = Repository(tmp_path / "repo")
    with pytest.raises(error, match=message):
        convert_file(repo, path, "m", "onnx")
    assert repo.models() == []


def test_a_skops_file_holding_no_estimator(tmp_path: Path) -> None:
    path = _save(tmp_path, {"weights": [1, 2]}, "settings")
    _refused(tmp_path, path, ModelLoadError, r"holds a builtins\.dict, not a scikit-learn")


def test_an_estimator_that_was_never_fitted(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    path = _save(tmp_path, LinearRegression(), "unfitted")
    _refused(tmp_path, path, ModelLoadError, "unfitted.skops holds an estimator that was never")


def test_a_joblib_file_that_is_not_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    path.write_text("plain text")
    _refused(tmp_path, path, ModelLoadError, r"model\.joblib is not a readable joblib/pickle")


def test_a_file_of_an_unknown_type_names_the_types_modelport_reads(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"  # an artifact, not a model to convert
    path.write_bytes(b"\0")
    _refused(
        tmp_path,
        path,
        ModelLoadError,
        re.escape("model.onnx: unknown model file type '.onnx'; modelport reads .h5"),
    )


def test_a_directory_that_is_neither_a_saved_model_nor_an_mlflow_model(tmp_path: Path) -> None:
    folder = tmp_path / "exported"
    folder.mkdir()
    _refused(tmp_path, folder, ModelLoadError, "with neither saved_model.pb nor MLmodel")


def test_a_missing_model_file(tmp_path: Path) -> None:
    _refused(tmp_path, tmp_path / "absent.skops", ModelLoadError, "absent.skops does not exist")


def test_boolean_class_labels(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(40, 2))
    path = _save(tmp_path, LogisticRegression().fit(x, x[:, 0] > 0), "flags")
    _refused(
        tmp_path,
        path,
        UnsupportedConversion,
        "class labels of type bool are not supported; use integer or string labels",
    )


def _frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "color": rng.choice(["red", "green", "blue"], 120),
            "grade": rng.integers(1, 4, 120),
            "kind": rng.choice(["a", "b"], 120),
        }
    )
    label = ((frame["color"] == "red") ^ (frame["kind"] == "a")).to_numpy().astype(int)
    return frame, label


def test_an_encoder_over_string_and_number_columns_without_column_transformer(
    tmp_path: Path,
) -> None:
    """skl2onnx has one input type per graph unless a ColumnTransformer routes the columns:
    refused naming the remedy (and the format that takes it), not skl2onnx's ValueError."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, label = _frame()
    model = make_pipeline(OneHotEncoder(), LogisticRegression()).fit(frame, label)
    _refused(
        tmp_path,
        _save(tmp_path, model, "mixed"),
        UnsupportedConversion,
        "string and numeric columns without a ColumnTransformer.*wrap its preprocessing in a "
        "ColumnTransformer, or convert it to pmml",
    )


def test_an_encoder_over_string_columns_without_column_transformer_converts(
    tmp_path: Path,
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    frame, label = _frame()
    strings = frame[["color", "kind"]]
    model = make_pipeline(OneHotEncoder(), LogisticRegression()).fit(strings, label)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, _save(tmp_path, model, "strings"), "strings", "onnx")
    assert [(s.name, s.datatype) for s in manifest.signature.inputs] == [
        ("color", "BYTES"),
        ("kind", "BYTES"),
    ]
    assert manifest.parity is not None and manifest.parity.passed
    _, predictor = repo.open("strings", manifest.version)
    fresh = strings.tail(9)
    got = predictor.predict({c: fresh[c].to_numpy(dtype=object).reshape(-1, 1) for c in fresh})
    np.testing.assert_array_equal(got["label"], model.predict(fresh))
    np.testing.assert_allclose(got["probabilities"], model.predict_proba(fresh), atol=1e-6)


def _kinds() -> dict[str, tuple[Any, str]]:
    from sklearn.cluster import KMeans
    from sklearn.ensemble import IsolationForest
    from sklearn.mixture import GaussianMixture
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import OneClassSVM

    return {
        "kmeans": (make_pipeline(StandardScaler(), KMeans(2, n_init=1)), "KMeans is a clusterer"),
        "iforest": (IsolationForest(n_estimators=5), "IsolationForest is an outlier detector"),
        "ocsvm": (OneClassSVM(), "OneClassSVM is an outlier detector"),
        "gmm": (GaussianMixture(2), "GaussianMixture is a density estimator"),
    }


@pytest.mark.parametrize("target", ["onnx", pytest.param("pmml", marks=pytest.mark.pmml)])
@pytest.mark.parametrize("kind", sorted(_kinds()))
def test_a_model_neither_classifier_nor_regressor_is_refused_up_front(
    tmp_path: Path, kind: str, target: str
) -> None:
    """Refused before any converter runs, not by onnxruntime failing on the staged graph's
    output types, or a PMML without a target field."""
    model, what = _kinds()[kind]
    x = np.random.default_rng(0).normal(size=(60, 3))
    path = _save(tmp_path, model.fit(x), kind)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(UnsupportedConversion) as info:
        convert_file(repo, path, kind, target)
    message = str(info.value)
    assert message.startswith(what), message
    assert "modelport converts classifiers" in message and "regressors" in message
    assert repo.models() == []


def test_an_option_skl2onnx_does_not_implement_is_unsupported(tmp_path: Path) -> None:
    from sklearn.neighbors import KNeighborsRegressor

    x = np.random.default_rng(0).normal(size=(40, 2))
    model = KNeighborsRegressor(3, metric="haversine", algorithm="ball_tree").fit(x, x[:, 0])
    _refused(
        tmp_path,
        _save(tmp_path, model, "haversine"),
        UnsupportedConversion,
        "skl2onnx cannot convert this model: metric='haversine' is not implemented",
    )


def test_a_model_from_before_scikit_learn_1_0_is_told_to_refit() -> None:
    from sklearn.linear_model import LinearRegression

    from converters.sklearn_common import input_specs

    x = np.random.default_rng(0).normal(size=(20, 2))
    model = LinearRegression().fit(x, x[:, 0])
    del model.n_features_in_  # as scikit-learn 0.24 left it
    model._sklearn_version = "0.24.2"  # what unpickling such a model keeps
    with pytest.raises(UnsupportedConversion, match=r"fitted with scikit-learn 0\.24\.2.*>= 1\.0"):
        input_specs(model)
