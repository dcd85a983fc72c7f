"""Missing values (NaN) through the real converters and runtimes: imputers, and models that
route NaN themselves (HistGradientBoosting; scikit-learn's trees in ONNX), on samples with
NaN, against scikit-learn."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from converters.errors import ConversionError, UnsupportedConversion
from converters.pipeline import convert_file
from model_repo import Repository
from tests.converters.agreement import (
    as_source_takes_it,
    assert_answers_like_sklearn,
    column_tensors,
    save,
)

TARGETS = ["onnx", pytest.param("pmml", marks=pytest.mark.pmml)]
COLUMNS = ["a", "b", "c"]


def _with_holes(rng: np.random.Generator, rows: int, share: float) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.integers(0, 5, rows).astype(float),
            "c": rng.random(rows) * 100,
        }
    )
    return frame.mask(rng.random(frame.shape) < share)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Training rows with 15% NaN, their labels, fresh rows with 30% NaN and one all NaN."""
    rng = np.random.default_rng(0)
    train = _with_holes(rng, 300, 0.15)
    labels = ((train["a"].fillna(2) + 0.3 * train["b"].fillna(-1)) > 0.5).to_numpy().astype(int)
    fresh = _with_holes(rng, 60, 0.3)
    fresh.iloc[0] = np.nan
    return train, labels, fresh


def _fitted(model: Any, x: Any, y: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        return model.fit(x, y)


def _models() -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "histgb": HistGradientBoostingClassifier(max_iter=30, random_state=0),
        "imputer-mean": make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()),
        # An integer constant for float columns: JPMML would declare them integer.
        "imputer-constant": make_pipeline(
            SimpleImputer(strategy="constant", fill_value=-1), LogisticRegression()
        ),
    }


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", list(_models()))
def test_nan_in_the_synthesized_sample_and_in_served_rows(
    tmp_path: Path, data: Any, kind: str, target: str
) -> None:
    train, labels, fresh = data
    model = _fitted(_models()[kind], train, labels)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, save(tmp_path, model), kind, target)
    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.parity.sample_source.endswith("; NaN in a, b, c")
    tensors = column_tensors(fresh, COLUMNS)
    assert np.isnan(tensors["a"]).sum() > 10
    assert_answers_like_sklearn(repo, manifest, model, tensors, as_source_takes_it(fresh))


def _fitted_hgb_regressor(train: pd.DataFrame) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    target = train["a"].fillna(0) * 2 + train["c"].fillna(3) / 10
    return _fitted(HistGradientBoostingRegressor(max_iter=30, random_state=0), train, target)


@pytest.mark.parametrize("target", TARGETS)
def test_a_csv_sample_with_empty_cells_feeds_nan(tmp_path: Path, data: Any, target: str) -> None:
    train, _labels, fresh = data
    model = _fitted_hgb_regressor(train)
    sample = tmp_path / "holes.csv"
    fresh.to_csv(sample, index=False)
    assert ",," in sample.read_text()  # missing values are empty cells
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, save(tmp_path, model), "hgbr", target, sample_path=sample)
    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.parity.sample_source == "file:holes.csv"
    tensors = column_tensors(fresh, COLUMNS)
    assert_answers_like_sklearn(repo, manifest, model, tensors, as_source_takes_it(fresh))


def test_training_rows_on_a_split_threshold_go_the_same_way_in_onnx(tmp_path: Path) -> None:
    """HistGradientBoosting splits on training values (with 256 distinct values, its 255
    bin edges are those values); float32(threshold) can round above the threshold, and
    such a value would go left in the ONNX graph and right in scikit-learn, unless the
    graph's thresholds are moved down (onnx_trees)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(3)
    a = rng.normal(size=300)
    a[rng.permutation(300)[:44]] = np.nan
    train = pd.DataFrame({"a": a, "c": rng.random(300)})
    labels = (np.nan_to_num(a, nan=1.0) + 0.5 * train["c"] > 0.6).to_numpy().astype(int)
    model = _fitted(HistGradientBoostingClassifier(max_iter=40, random_state=0), train, labels)
    sample = train.sample(120, random_state=2)
    assert _rows_on_rounded_up_thresholds(model, sample) > 0  # the case is in the sample
    path = tmp_path / "training-rows.csv"
    sample.to_csv(path, index=False)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, save(tmp_path, model), "hgb", "onnx", sample_path=path)
    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.parity.outputs["probabilities"].mismatches == 0
    tensors = column_tensors(sample, ["a", "c"])
    error = assert_answers_like_sklearn(repo, manifest, model, tensors, as_source_takes_it(sample))
    assert error < 1e-6


def _rows_on_rounded_up_thresholds(model: Any, rows: pd.DataFrame) -> int:
    """Sample values x whose float32 equals float32(t) > t for some split threshold t."""
    values = rows.to_numpy().astype(np.float32)
    count = 0
    for iteration in model._predictors:
        for predictor in iteration:
            for node in predictor.nodes[predictor.nodes["is_leaf"] == 0]:
                t = node["num_threshold"]
                if np.float32(t) > t:
                    count += int(np.sum(values[:, node["feature_idx"]] == np.float32(t)))
    return count


def test_forest_trees_route_nan_like_sklearn_in_onnx(tmp_path: Path, data: Any) -> None:
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier

    train, labels, fresh = data
    sample = tmp_path / "holes.csv"
    fresh.to_csv(sample, index=False)
    target = train["a"].fillna(0).to_numpy()
    for name, model in (
        ("forest", _fitted(RandomForestClassifier(10, max_depth=5, random_state=0), train, labels)),
        ("extra", _fitted(ExtraTreesRegressor(10, max_depth=5, random_state=0), train, target)),
    ):
        repo = Repository(tmp_path / name)
        manifest = convert_file(repo, save(tmp_path, model, name), name, "onnx", sample_path=sample)
        assert manifest.parity is not None and manifest.parity.passed
        tensors = column_tensors(fresh, COLUMNS)
        assert_answers_like_sklearn(repo, manifest, model, tensors, as_source_takes_it(fresh))


def test_trees_of_one_structure_each_route_nan_their_own_way_in_onnx(tmp_path: Path) -> None:
    """Stumps on one feature share a structure; fitted without NaN, each sends NaN to the
    child that saw more of its (bootstrapped) rows: the ONNX trees must follow each its own
    scikit-learn tree, in order (the demo's GradientBoosting once failed on this)."""
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(3)
    x = pd.DataFrame({"a": rng.normal(size=400)})
    labels = (x["a"] + rng.normal(scale=0.8, size=400) > 0.2).to_numpy().astype(int)
    model = _fitted(RandomForestClassifier(25, max_depth=1, random_state=1), x, labels)
    directions = {int(t.tree_.missing_go_to_left[0]) for t in model.estimators_}
    assert directions == {0, 1}  # else this would not test what it says
    fresh = pd.DataFrame({"a": [np.nan, 0.1, np.nan, -1.0]})
    sample = tmp_path / "fresh.csv"
    fresh.to_csv(sample, index=False)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(
        repo, save(tmp_path, model, "stumps"), "stumps", "onnx", sample_path=sample
    )
    assert manifest.parity is not None and manifest.parity.passed
    tensors = column_tensors(fresh, ["a"])
    assert_answers_like_sklearn(repo, manifest, model, tensors, as_source_takes_it(fresh))


@pytest.mark.pmml
def test_a_pmml_forest_gives_no_answer_for_a_missing_value(tmp_path: Path, data: Any) -> None:
    """sklearn2pmml encodes scikit-learn's trees without missing-value routing: the PMML
    artifact refuses such a row (never a wrong answer), and the parity check says so."""
    from sklearn.ensemble import RandomForestClassifier

    train, labels, fresh = data
    model = _fitted(RandomForestClassifier(10, max_depth=5, random_state=0), train, labels)
    sample = tmp_path / "holes.csv"
    fresh.to_csv(sample, index=False)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(
        ConversionError, match="gave no result for row 0: an input value is missing"
    ):
        convert_file(repo, save(tmp_path, model), "forest", "pmml", sample_path=sample)
    assert repo.models() == []
    manifest = convert_file(repo, save(tmp_path, model), "forest", "pmml")  # no NaN drawn
    assert manifest.parity is not None and "NaN" not in manifest.parity.sample_source


@pytest.mark.parametrize("target", TARGETS)
def test_imputed_and_passed_columns_of_a_column_transformer(
    tmp_path: Path, data: Any, target: str
) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    train, labels, fresh = data
    rng = np.random.default_rng(1)
    train = train.assign(color=rng.choice(["red", "blue"], len(train)))
    fresh = fresh.assign(color=rng.choice(["red", "blue"], len(fresh)))
    columns = ColumnTransformer(
        [
            ("num", SimpleImputer(strategy="median"), ["a", "b"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
            ("keep", "passthrough", ["c"]),  # NaN goes on, to the model that routes it
        ]
    )
    model = _fitted(
        make_pipeline(columns, HistGradientBoostingClassifier(max_iter=20, random_state=0)),
        train,
        labels,
    )
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, save(tmp_path, model), "mixed", target)
    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.parity.sample_source.endswith("; NaN in a, b, c")
    tensors = column_tensors(fresh, [*COLUMNS, "color"])
    assert_answers_like_sklearn(repo, manifest, model, tensors, as_source_takes_it(fresh))


@pytest.mark.pmml
def test_an_imputer_with_missing_indicators_converts_to_pmml(tmp_path: Path, data: Any) -> None:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    train, labels, fresh = data
    imputer = SimpleImputer(strategy="median", add_indicator=True)
    model = _fitted(make_pipeline(imputer, LogisticRegression()), train, labels)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, save(tmp_path, model), "indicators", "pmml")
    tensors = column_tensors(fresh, COLUMNS)
    assert_answers_like_sklearn(repo, manifest, model, tensors, as_source_takes_it(fresh))


@pytest.mark.parametrize(
    ("imputer", "message"),
    [
        ("indicator", "has add_indicator=True, and skl2onnx leaves its missing-value indicator"),
        ("knn", "(KNNImputer): skl2onnx's graph fails at run time on a row whose values are all"),
    ],
)
def test_imputers_onnx_would_get_wrong_are_refused(
    tmp_path: Path, data: Any, imputer: str, message: str
) -> None:
    from sklearn.impute import KNNImputer, SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    train, labels, _fresh = data
    step = SimpleImputer(add_indicator=True) if imputer == "indicator" else KNNImputer()
    model = _fitted(make_pipeline(step, LogisticRegression()), train, labels)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(UnsupportedConversion) as info:
        convert_file(repo, save(tmp_path, model), "imputed", "onnx")
    assert message in str(info.value) and str(info.value).startswith("step 'Pipeline/")
    assert repo.models() == []


def test_models_that_take_no_nan_get_no_nan_in_their_sample(tmp_path: Path, data: Any) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train, labels, _fresh = data
    clean = train.fillna(0.0)
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(clean, labels)
    manifest = convert_file(Repository(tmp_path / "repo"), save(tmp_path, model), "lr", "onnx")
    assert manifest.parity is not None and manifest.parity.passed
    assert "NaN" not in manifest.parity.sample_source  # a scaler lets NaN pass; LR refuses it
