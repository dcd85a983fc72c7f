"""What the scikit-learn converters share: the tolerance per model kind, what .skops may hold."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converters.errors import ModelLoadError
from converters.loading import load_source
from converters.sklearn_contract import CONTINUOUS, DISCRETE, tolerance
from tests.sklearn_cases import cases


def _models() -> dict[str, Callable[[], Any]]:
    from sklearn.ensemble import (
        BaggingRegressor,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        StackingRegressor,
        VotingClassifier,
        VotingRegressor,
    )
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.neighbors import KNeighborsRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor, ExtraTreeClassifier

    linear = [("a", LinearRegression()), ("b", Ridge())]
    return {
        "tree": DecisionTreeRegressor,
        "extra_tree": ExtraTreeClassifier,
        "forest": lambda: RandomForestClassifier(5),
        "hist_gb": lambda: HistGradientBoostingRegressor(max_iter=5),
        "scaled_knn": lambda: make_pipeline(StandardScaler(), KNeighborsRegressor(3)),
        "vote_with_tree": lambda: VotingClassifier(
            [("lr", LogisticRegression()), ("tree", ExtraTreeClassifier())], voting="soft"
        ),
        "stack_on_tree": lambda: StackingRegressor(linear, final_estimator=DecisionTreeRegressor()),
        # In sklearn.ensemble, but smooth in their inputs: the strict tolerance stays.
        "vote_of_linear": lambda: VotingRegressor(linear),
        "bag_of_linear": lambda: BaggingRegressor(LinearRegression(), n_estimators=3),
        "stack_of_linear": lambda: StackingRegressor(linear),
        "logistic": LogisticRegression,
    }


DISCRETE_CASES = {"tree", "extra_tree", "forest", "hist_gb", "scaled_knn", "vote_with_tree"}
DISCRETE_CASES |= {"stack_on_tree"}


@pytest.mark.parametrize("case", sorted(_models()))
def test_only_trees_neighbours_and_their_ensembles_get_the_mismatch_budget(case: str) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of tiny fits
        model = _models()[case]().fit(x, y)
    assert tolerance(model) == (DISCRETE if case in DISCRETE_CASES else CONTINUOUS)


def _save(tmp_path: Path, model: Any) -> Path:
    import skops.io

    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    return path


@pytest.mark.parametrize("func", [abs, eval])
def test_a_skops_file_naming_a_builtin_is_refused_by_name(tmp_path: Path, func: Any) -> None:
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    model = make_pipeline(FunctionTransformer(func), LinearRegression())
    if func is abs:
        model.fit(np.eye(3), np.arange(3))
    with pytest.raises(
        ModelLoadError, match=rf"neither skops nor modelport trusts: builtins\.{func.__name__}\."
    ):
        load_source(_save(tmp_path, model))


@pytest.mark.parametrize("case", [c.name for c in cases()])
def test_every_tested_model_loads_from_skops(
    case: str, sklearn_files: dict[str, tuple[Path, Any]]
) -> None:
    assert type(load_source(sklearn_files[case][0]).obj) is type(sklearn_files[case][1])


def test_internals_of_other_estimators_are_trusted_by_exact_name(tmp_path: Path) -> None:
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.neural_network import MLPRegressor

    x = np.random.default_rng(0).normal(size=(30, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter of tiny fits
        models = [
            KNeighborsClassifier(algorithm="ball_tree", metric="manhattan").fit(x, x[:, 0] > 0),
            GaussianProcessRegressor().fit(x, x[:, 0]),
            MLPRegressor(solver="sgd", max_iter=3).fit(x, x[:, 0]),
        ]
    for model in models:
        assert type(load_source(_save(tmp_path, model)).obj) is type(model)
