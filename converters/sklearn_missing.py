"""Missing values (NaN) in scikit-learn models: where a model takes them, and what each
format refuses.

A model takes NaN in an input column when the column reaches an imputer (SimpleImputer,
KNNImputer, IterativeImputer) through steps that let NaN pass (scalers do), or reaches,
the same way, a final estimator that routes NaN itself: HistGradientBoosting, whose trees
learn which way missing values go. scikit-learn records neither which columns held NaN
during fitting nor, for HistGradientBoosting, anything per column; so such a column is one
that *takes* NaN, and synthesized samples put NaN there (`sklearn_synth`).

scikit-learn's other trees and forests take NaN too (since 1.3): the ONNX artifact routes it
as they do (`onnx_trees`), but sklearn2pmml encodes them without missing-value routing, so
their PMML artifacts give no result for such a row. Synthesized samples leave those columns
without NaN; a --sample with NaN checks them.
"""

from __future__ import annotations

from functools import cache
from numbers import Integral
from typing import Any

import numpy as np

from converters.errors import UnsupportedConversion
from converters.sklearn_common import iter_steps
from model_repo.signature import TensorSpec


def nan_features(model: Any, specs: tuple[TensorSpec, ...]) -> dict[str, list[int]]:
    """FP32 input name -> the positions (columns of that input) that take NaN."""
    steps = _chain(model)
    numeric = [s for s in specs if s.datatype == "FP32"]
    if not hasattr(steps[0], "transformers_"):
        return {s.name: list(range(s.shape[1])) for s in numeric} if _takes_nan(steps) else {}
    found: dict[str, list[int]] = {}
    for _name, transformer, columns in steps[0].transformers_:
        branch = [] if transformer == "passthrough" else _chain(transformer)
        if transformer == "drop" or not _takes_nan(branch + steps[1:]):
            continue
        for column in [columns] if isinstance(columns, str | Integral) else list(columns):
            _add(found, column, numeric, len(specs))
    return found


def _add(found: dict[str, list[int]], column: Any, numeric: list[TensorSpec], inputs: int) -> None:
    if isinstance(column, str):
        if column in {s.name for s in numeric}:
            found[column] = [0]
    elif isinstance(column, Integral) and inputs == 1 and numeric:  # a column of `input`
        found.setdefault(numeric[0].name, []).append(int(column))


def _chain(step: Any) -> list[Any]:
    """A step as the sequence of steps data goes through (a Pipeline flattened)."""
    if not hasattr(step, "steps"):
        return [step]
    return [
        s for _n, inner in step.steps if inner not in (None, "passthrough") for s in _chain(inner)
    ]


def _takes_nan(steps: list[Any]) -> bool:
    for position, step in enumerate(steps):
        if _fills_nan(step):
            return True
        if position == len(steps) - 1:
            return isinstance(step, _routes_nan())
        if not _allows_nan(step):
            return False
    return False


def _fills_nan(step: Any) -> bool:
    missing = getattr(step, "missing_values", None)
    return _is_imputer(step) and isinstance(missing, float) and missing != missing


def _allows_nan(step: Any) -> bool:
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(step, FunctionTransformer) and step.func is None:
        return True  # what a fitted ColumnTransformer puts for "passthrough"
    try:
        return bool(step.__sklearn_tags__().input_tags.allow_nan)
    except AttributeError:  # not a scikit-learn estimator, or one from before tags
        return False


def _is_imputer(step: Any) -> bool:
    from sklearn.impute import KNNImputer, SimpleImputer

    # IterativeImputer is importable only after enabling it: known by its name instead.
    iterative = any(c.__name__ == "IterativeImputer" for c in type(step).__mro__)
    return iterative or isinstance(step, (SimpleImputer, KNNImputer))


@cache
def _routes_nan() -> tuple[type, ...]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    return (HistGradientBoostingClassifier, HistGradientBoostingRegressor)


# ---- what each format refuses ---------------------------------------------------------------


def check_onnx_imputers(model: Any) -> None:
    """Raise UnsupportedConversion for imputers whose ONNX graph would not fill missing
    values as scikit-learn does (sklearn2pmml's imputers do)."""
    from sklearn.impute import KNNImputer, SimpleImputer

    for path, step in iter_steps(model):
        if isinstance(step, SimpleImputer) and step.add_indicator:
            raise UnsupportedConversion(
                f"step {path!r} (SimpleImputer) has add_indicator=True, and skl2onnx leaves "
                "its missing-value indicator columns out; refit it with add_indicator=False, "
                "or convert it to pmml, which keeps them"
            )
        if isinstance(step, KNNImputer):
            raise UnsupportedConversion(
                f"step {path!r} (KNNImputer): skl2onnx's graph fails at run time on a row "
                "whose values are all missing (scikit-learn fills it with the column means), "
                "and sklearn2pmml has no converter for it; use a SimpleImputer"
            )


def prepare_for_pmml(model: Any) -> None:
    """Make `model` (a copy) say what it means to sklearn2pmml: a SimpleImputer fitted on
    numbers with an integer constant keeps its fill values as integers, JPMML then declares
    the column integer and refuses every value that is not whole. The fill values become
    floats, as scikit-learn writes them into the float data."""
    from sklearn.impute import SimpleImputer

    for _path, step in iter_steps(model):
        fitted_on = getattr(step, "_fit_dtype", None)
        if not isinstance(step, SimpleImputer) or getattr(fitted_on, "kind", "") != "f":
            continue
        if isinstance(step.fill_value, Integral):
            step.fill_value = float(step.fill_value)
        if step.statistics_.dtype == object:
            step.statistics_ = step.statistics_.astype(np.float64)
