"""XGBoost and LightGBM models: their scikit-learn wrappers, as the scikit-learn converters see
them.

XGBClassifier, XGBRegressor, LGBMClassifier and LGBMRegressor are scikit-learn estimators and
convert through `sklearn_onnx` and `sklearn_pmml` like any other, alone or as a pipeline's
final step. What differs is gathered here: which estimators are boosters (a type check
against the wrapper classes, taken only from libraries already imported: an object of theirs
cannot exist otherwise, so nothing is imported to answer), where their split thresholds are
(for synthesised samples), and the error naming the extra to install when a library is missing.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any

from converters.sklearn_common import iter_steps
from model_repo.errors import DependencyMissing

LIBRARIES = ("xgboost", "lightgbm")
_WRAPPERS = {
    "xgboost": ("XGBClassifier", "XGBRegressor"),
    "lightgbm": ("LGBMClassifier", "LGBMRegressor"),
}
_NAMES = {"xgboost": "XGBoost", "lightgbm": "LightGBM"}


def display_name(library: str) -> str:
    return _NAMES[library]


def extra_hint(library: str) -> str:
    return f"install it with: pip install 'modelport[{library}]'"


def import_library(library: str) -> ModuleType:
    """The library, or DependencyMissing naming the extra that installs it."""
    try:
        return importlib.import_module(library)
    except ImportError as exc:
        raise DependencyMissing(
            f"{_NAMES[library]} is not installed; {extra_hint(library)}"
        ) from exc


def missing_library(exc: BaseException | None) -> DependencyMissing | None:
    """DependencyMissing when `exc` (raised while loading a model), or an error it was raised
    from, is a booster library's absence; else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        library = (getattr(exc, "name", None) or "").split(".")[0]
        if isinstance(exc, ImportError) and library in LIBRARIES:
            return DependencyMissing(
                f"the model needs {_NAMES[library]}, which is not installed; {extra_hint(library)}"
            )
        exc = exc.__cause__ or exc.__context__
    return None


def wrapper_types(library: str) -> tuple[type, ...]:
    """The library's scikit-learn wrappers modelport converts; () if it is not imported."""
    module = sys.modules.get(library)
    if module is None:
        return ()
    return tuple(getattr(module, name) for name in _WRAPPERS[library])


def library_of(estimator: Any) -> str | None:
    """The library ("xgboost" or "lightgbm") of one of the four wrappers, else None. Their
    exact classes: a subclass such as XGBRFClassifier is not what the converters are for."""
    for library in LIBRARIES:
        if type(estimator) in wrapper_types(library):
            return library
    return None


def is_booster(estimator: Any) -> bool:
    return library_of(estimator) is not None


def libraries_in(model: Any) -> set[str]:
    """The booster libraries whose estimators appear anywhere in `model`."""
    return {lib for _path, step in iter_steps(model) if (lib := library_of(step))}


def split_thresholds(estimator: Any) -> list[tuple[int, float]] | None:
    """(feature index, threshold) of every numeric split of a booster; None if it is not one
    or has no trees (a linear booster)."""
    library = library_of(estimator)
    if library == "xgboost":
        return _xgboost_splits(estimator.get_booster())
    if library == "lightgbm":
        return _lightgbm_splits(estimator.booster_)
    return None


def _xgboost_splits(booster: Any) -> list[tuple[int, float]] | None:
    try:
        frame = booster.trees_to_dataframe()
    except ValueError:  # "not defined for Booster type gblinear"
        return None
    names = booster.feature_names or [f"f{i}" for i in range(booster.num_features())]
    index = {name: i for i, name in enumerate(names)}
    splits = frame[frame["Feature"].isin(list(index)) & frame["Split"].notna()]
    return [(index[f], float(t)) for f, t in zip(splits["Feature"], splits["Split"], strict=True)]


def _lightgbm_splits(booster: Any) -> list[tuple[int, float]] | None:
    frame = booster.trees_to_dataframe()
    index = {name: i for i, name in enumerate(booster.feature_name())}
    numeric = frame[frame["decision_type"] == "<="]
    return [
        (index[f], float(t))
        for f, t in zip(numeric["split_feature"], numeric["threshold"], strict=True)
    ]
