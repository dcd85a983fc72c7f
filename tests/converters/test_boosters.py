"""XGBoost and LightGBM models, alone and in pipelines, saved with skops or as native booster
files, through the real converters (onnxmltools inside skl2onnx, sklearn2pmml) and served by
the real runtimes; every answer checked against the source model's own."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from converters.booster_onnx import floor_float32
from converters.errors import ModelLoadError, UnsupportedConversion
from converters.pipeline import convert_file
from converters.sklearn_contract import DISCRETE
from converters.sklearn_pmml import PMML_TOLERANCE, XGBOOST_TOLERANCE
from model_repo import Repository
from model_repo.manifest import Tolerance
from tests.converters.agreement import as_source_takes_it, contract_tensors, served
from tests.sklearn_cases import datasets

xgboost = pytest.importorskip("xgboost")
lightgbm = pytest.importorskip("lightgbm")
pytest.importorskip("onnxmltools")


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], Any]
    data: str  # key into datasets(), or "binary"
    samples_from: str  # what the synthesised sample is drawn from


def _columns(final: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
            ("num", StandardScaler(), ["size", "weight"]),
        ]
    )
    return make_pipeline(columns, final)


def _scaled(final: Any) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), final)


SMALL = {"n_estimators": 20, "max_depth": 3}
CASES = [
    Case("xgb-binary", lambda: xgboost.XGBClassifier(**SMALL), "binary", "tree split"),
    Case("xgb-multi", lambda: xgboost.XGBClassifier(**SMALL), "classes", "tree split"),
    Case("xgb-reg", lambda: xgboost.XGBRegressor(**SMALL), "regression", "tree split"),
    Case("lgbm-clf", lambda: lightgbm.LGBMClassifier(**SMALL, verbose=-1), "classes", "tree"),
    Case("lgbm-reg", lambda: lightgbm.LGBMRegressor(**SMALL, verbose=-1), "regression", "tree"),
    Case("xgb-columns", lambda: _columns(xgboost.XGBClassifier(**SMALL)), "tabular01", "scaler"),
    Case(
        "lgbm-columns",
        lambda: _columns(lightgbm.LGBMClassifier(**SMALL, verbose=-1)),
        "tabular",
        "scaler",
    ),
    Case(
        "lgbm-scaled-reg",
        lambda: _scaled(lightgbm.LGBMRegressor(**SMALL, verbose=-1)),
        "regression",
        "scaler",
    ),
]
TARGETS = [pytest.param("onnx", id="onnx"), pytest.param("pmml", id="pmml", marks=pytest.mark.pmml)]


def _data() -> dict[str, tuple[Any, Any, Any]]:
    from sklearn.datasets import make_classification

    data = datasets()
    x, y = make_classification(300, 5, n_informative=3, random_state=5)
    data["binary"] = (x[:200], y[:200], x[200:])
    frame, labels, fresh = data["tabular"]
    data["tabular01"] = (frame, (labels == "yes").astype(int), fresh)  # XGBoost wants 0..n-1
    return data


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[Any, Any, Any]]:
    return _data()


@pytest.fixture(scope="module")
def models(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, tuple[Any, Any, Any]]
) -> dict[str, tuple[Path, Any]]:
    """Each case fitted and saved with skops, as a user hands it over."""
    import skops.io

    folder = tmp_path_factory.mktemp("boosters")
    saved = {}
    for case in CASES:
        x, y, _ = data[case.data]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # LightGBM's "no further splits" chatter
            model = case.build().fit(x, y)
        path = folder / f"{case.name}.skops"
        skops.io.dump(model, path)
        saved[case.name] = (path, model)
    return saved


def _close(got: np.ndarray, expected: np.ndarray, tolerance: Tolerance) -> float:
    """The share of elements within the tolerance."""
    diff = np.abs(got.astype(np.float64) - expected)
    return float(np.mean(diff <= tolerance.atol + tolerance.rtol * np.abs(expected)))


def _expected_tolerance(case: str, target: str) -> Tolerance:
    if target == "onnx":
        return DISCRETE
    return XGBOOST_TOLERANCE if case.startswith("xgb") else PMML_TOLERANCE


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("case", [c.name for c in CASES])
def test_booster_converts_and_serves_the_answers_of_the_source_model(
    tmp_path: Path, case: str, target: str, models: dict[str, tuple[Path, Any]], data: Any
) -> None:
    path, model = models[case]
    spec = next(c for c in CASES if c.name == case)
    repo = Repository(tmp_path)
    manifest = convert_file(repo, path, case, target)
    parity = manifest.parity
    assert parity is not None and parity.passed and not parity.forced
    assert parity.tolerance == _expected_tolerance(case, target)
    assert parity.sample_source.startswith(f"synthesized:256 rows from {spec.samples_from}")
    library = xgboost if case.startswith("xgb") else lightgbm
    assert manifest.provenance.libraries[library.__name__] == library.__version__
    if target == "onnx":
        assert manifest.provenance.libraries["onnxmltools"] == "1.16.0"

    fresh = data[spec.data][2]
    got = served(repo, manifest, contract_tensors(fresh, manifest.signature.input_names))
    x = as_source_takes_it(fresh)
    tolerance = parity.tolerance
    floor = 1 - tolerance.mismatch_budget - 1e-9
    if "label" in got:
        assert manifest.labels == tuple(model.classes_.tolist())
        assert [s.name for s in manifest.signature.outputs] == ["label", "probabilities"]
        assert np.mean(got["label"].astype(str) == model.predict(x).astype(str)) >= floor
        assert got["probabilities"].dtype == np.float32
        assert _close(got["probabilities"], model.predict_proba(x), tolerance) >= floor
    else:
        assert manifest.labels is None
        assert got["prediction"].shape == (len(fresh),)
        assert _close(got["prediction"], model.predict(x), tolerance) >= floor


def test_a_dataframe_column_named_like_another_feature_is_read_by_position(
    tmp_path: Path,
) -> None:
    """XGBoost's tree dump names the features; a column called "f1" in position 0 must not
    be taken for feature 1."""
    import skops.io

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"f1": rng.normal(size=300), "f0": rng.normal(size=300)})
    model = xgboost.XGBRegressor(n_estimators=10, max_depth=2)
    model.fit(frame, 3 * frame["f1"] - frame["f0"] ** 2)
    path = tmp_path / "named.skops"
    skops.io.dump(model, path)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, path, "named", "onnx")
    assert manifest.signature.input_names == ["f1", "f0"]
    got = served(repo, manifest, contract_tensors(frame, ["f1", "f0"]))["prediction"]
    np.testing.assert_allclose(got, model.predict(as_source_takes_it(frame)), rtol=1e-4, atol=1e-4)


def _one_split_lightgbm() -> tuple[Any, float]:
    """A one-split LightGBM classifier whose double threshold t rounds *up* to float32."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 1))
    model = lightgbm.LGBMClassifier(n_estimators=1, num_leaves=2, verbose=-1)
    model.fit(x, (x[:, 0] > 0.1).astype(int))
    threshold = float(model.booster_.trees_to_dataframe()["threshold"].dropna().iloc[0])
    assert float(np.float32(threshold)) > threshold  # the case the converter must handle
    return model, threshold


def test_a_float32_input_just_above_a_lightgbm_threshold_takes_lightgbm_s_branch(
    tmp_path: Path,
) -> None:
    import skops.io

    model, threshold = _one_split_lightgbm()
    above = np.float32(threshold)  # nearest float32: above t, so LightGBM goes right
    path, sample = tmp_path / "split.skops", tmp_path / "rows.npy"
    skops.io.dump(model, path)
    np.save(sample, np.array([[above], [floor_float32(threshold)]], dtype=np.float32))
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, path, "split", "onnx", sample_path=sample)
    assert manifest.parity is not None and manifest.parity.passed
    got = served(repo, manifest, {"input": np.load(sample)})["probabilities"]
    expected = model.predict_proba(np.load(sample).astype(np.float64))
    assert abs(expected[0, 1] - expected[1, 1]) > 0.05  # the two rows take different leaves
    np.testing.assert_allclose(got, expected, atol=1e-6)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, float(np.nextafter(np.float32(0.1), np.float32(-1)))),  # float32(0.1) > 0.1
        (0.35, float(np.float32(0.35))),  # float32(0.35) < 0.35 already
        (0.5, 0.5),  # exact
        (1e300, float(np.finfo(np.float32).max)),
        (-1e300, -np.inf),
    ],
)
def test_floor_float32_is_the_largest_float32_not_above(value: float, expected: float) -> None:
    got = floor_float32(value)
    assert got == expected and got <= value


# ---- native booster files ----------------------------------------------------------------


def _native_files(folder: Path) -> dict[str, tuple[Path, Callable[[np.ndarray], np.ndarray]]]:
    """Native files of each kind, with the booster's own prediction function."""
    from sklearn.datasets import make_classification, make_regression

    x, y = make_classification(300, 5, n_informative=3, n_classes=3, random_state=0)
    multi = xgboost.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 3},
        xgboost.DMatrix(x, y),
        10,
    )
    multi.save_model(folder / "multi.json")
    multi.save_model(folder / "multi.ubj")
    rx, ry = make_regression(300, 4, noise=2.0, random_state=1)
    regressor = xgboost.train({"objective": "reg:squarederror"}, xgboost.DMatrix(rx, ry), 10)
    regressor.save_model(folder / "regressor.json")
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d", "e"])
    binary = lightgbm.train(
        {"objective": "binary", "verbose": -1}, lightgbm.Dataset(frame, (y == 1).astype(int)), 10
    )
    binary.save_model(folder / "binary.txt")
    lgbm_regressor = lightgbm.train(
        {"objective": "regression", "verbose": -1}, lightgbm.Dataset(rx, ry), 10
    )
    lgbm_regressor.save_model(folder / "lgbm_regressor.txt")
    return {
        "multi.json": (folder / "multi.json", lambda a: multi.predict(xgboost.DMatrix(a))),
        "multi.ubj": (folder / "multi.ubj", lambda a: multi.predict(xgboost.DMatrix(a))),
        "regressor.json": (
            folder / "regressor.json",
            lambda a: regressor.predict(xgboost.DMatrix(a)),
        ),
        "binary.txt": (folder / "binary.txt", binary.predict),
        "lgbm_regressor.txt": (folder / "lgbm_regressor.txt", lgbm_regressor.predict),
    }


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _native_files(tmp_path_factory.mktemp("native"))


NATIVE = {  # file -> (framework, labels, input names)
    "multi.json": ("xgboost", (0, 1, 2), ["input"]),
    "multi.ubj": ("xgboost", (0, 1, 2), ["input"]),
    "regressor.json": ("xgboost", None, ["input"]),
    "binary.txt": ("lightgbm", (0, 1), ["a", "b", "c", "d", "e"]),
    "lgbm_regressor.txt": ("lightgbm", None, ["input"]),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", sorted(NATIVE))
def test_native_booster_file_converts_and_serves_the_booster_s_answers(
    tmp_path: Path, name: str, target: str, native: dict[str, Any]
) -> None:
    path, booster_predict = native[name]
    framework, labels, inputs = NATIVE[name]
    repo = Repository(tmp_path)
    manifest = convert_file(repo, path, "native", target)
    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.provenance.framework == framework
    assert manifest.provenance.converter == f"sklearn_{target}"
    assert manifest.labels == labels
    assert manifest.signature.input_names == inputs
    note = manifest.notes["native_model"]
    assert note.startswith(f"native {'XGBoost' if framework == 'xgboost' else 'LightGBM'} model")
    assert ("class indices 0..n-1" in note) == (labels is not None)

    rows = np.random.default_rng(2).normal(size=(40, 5 if labels else 4)).astype(np.float32)
    request = (
        {"input": rows} if inputs == ["input"] else {n: rows[:, [i]] for i, n in enumerate(inputs)}
    )
    got = served(repo, manifest, request)
    expected = np.asarray(booster_predict(rows.astype(np.float64)))
    if labels is None:
        np.testing.assert_allclose(got["prediction"], expected, rtol=1e-4, atol=1e-4)
        return
    if expected.ndim == 1:  # a binary booster predicts P(class 1)
        expected = np.column_stack([1 - expected, expected])
    np.testing.assert_allclose(got["probabilities"], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got["label"], expected.argmax(axis=1))


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("config.json", b'{"model": {"learner": "no"}}'),
        ("list.json", b"[1, 2, 3]"),
        ("notes.txt", b"tree house\nversion=v4\n"),
        ("garbage.ubj", b"\x00\x01binary"),
        ("empty.txt", b""),
    ],
)
def test_a_file_that_is_no_booster_is_refused_by_its_content(
    tmp_path: Path, name: str, content: bytes
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(ModelLoadError, match=f"{name}: unknown model file type") as info:
        convert_file(repo, path, "m", "onnx")
    assert "an object with a 'learner' key" in str(info.value)
    assert repo.models() == []


def test_a_corrupt_booster_file_is_a_load_error_naming_the_library(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_bytes(b'{"learner": {"gradient_booster": 7}, "version": [3, 2, 0]}')
    with pytest.raises(ModelLoadError, match=r"model\.json is not a model XGBoost can load"):
        convert_file(Repository(tmp_path / "repo"), path, "m", "onnx")


@pytest.mark.parametrize(
    ("library", "params"),
    [
        ("xgboost", {"objective": "rank:pairwise"}),
        ("xgboost", {"objective": "multi:softmax", "num_class": 2}),  # labels, no probabilities
        ("lightgbm", {"objective": "multiclassova", "num_class": 2, "verbose": -1}),
    ],
)
def test_a_booster_whose_outputs_the_contract_lacks_is_refused_by_objective(
    tmp_path: Path, library: str, params: dict[str, Any]
) -> None:
    x = np.random.default_rng(0).normal(size=(100, 3))
    y = (x[:, 0] > 0).astype(int)
    if library == "xgboost":
        path = tmp_path / "model.json"
        xgboost.train(params, xgboost.DMatrix(x, y), 2).save_model(path)
    else:
        path = tmp_path / "model.txt"
        lightgbm.train(params, lightgbm.Dataset(x, y), 2).save_model(path)
    with pytest.raises(UnsupportedConversion, match=f"with objective '{params['objective']}'"):
        convert_file(Repository(tmp_path / "repo"), path, "m", "onnx")


def _squared_error(y: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return predicted - y, np.ones_like(predicted)


def test_a_skops_booster_holding_a_function_is_refused_naming_it(tmp_path: Path) -> None:
    """The wrappers are trusted, not what they hold: a custom objective is code."""
    import skops.io

    x = np.random.default_rng(0).normal(size=(50, 2))
    model = xgboost.XGBRegressor(n_estimators=2, objective=_squared_error).fit(x, x[:, 0])
    path = tmp_path / "custom.skops"
    skops.io.dump(model, path)
    with pytest.raises(ModelLoadError, match="_squared_error") as info:
        convert_file(Repository(tmp_path / "repo"), path, "custom", "onnx")
    assert "xgboost.sklearn.XGBRegressor" not in str(info.value)
