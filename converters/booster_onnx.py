"""XGBoost and LightGBM wrappers inside skl2onnx: onnxmltools' converters, registered once.

skl2onnx converts a pipeline step by step through its registry of converters; onnxmltools
has the converters of the boosters' trees. Registering them (`update_registered_converter`,
with skl2onnx's own linear shape calculators, so a classifier has the label and probability
outputs of every other classifier) lets a booster be converted alone or as a pipeline's final
step, with the same options (`zipmap` off) and output names as any scikit-learn classifier.

The registration happens the first time a model holding a booster is converted, not when
`converters` is imported: onnxmltools and the booster libraries are optional extras.

onnxmltools writes the `ai.onnx.ml` TreeEnsembleClassifier/Regressor of opset 3, while
skl2onnx would declare the newest `ai.onnx.ml` opset it knows (5) and then refuse the graph;
so a graph holding a booster is built with `ai.onnx.ml` pinned to 3 (`target_opset`).
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from converters import boosters
from model_repo.errors import DependencyMissing

ML_OPSET = 3
_CLASSIFIER_OPTIONS = {"nocl": [True, False], "zipmap": [True, False, "columns"]}


def register(model: Any) -> None:
    """Make skl2onnx able to convert every booster inside `model`."""
    for library in sorted(boosters.libraries_in(model)):
        _register(library)


def target_opset(model: Any) -> dict[str, int] | None:
    """The opsets for a graph of `model`: None (skl2onnx's defaults) without a booster."""
    if not boosters.libraries_in(model):
        return None
    from skl2onnx import get_latest_tested_opset_version

    return {"": get_latest_tested_opset_version(), "ai.onnx.ml": ML_OPSET}


@cache
def _register(library: str) -> None:
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    classifier, regressor = boosters.wrapper_types(library)
    convert = _onnxmltools_converter(library)
    update_registered_converter(
        classifier,
        f"modelport_{classifier.__name__}",
        calculate_linear_classifier_output_shapes,
        convert,
        options=_CLASSIFIER_OPTIONS,
    )
    update_registered_converter(
        regressor,
        f"modelport_{regressor.__name__}",
        calculate_linear_regressor_output_shapes,
        convert,
    )


def _onnxmltools_converter(library: str) -> Any:
    try:
        if library == "xgboost":
            from onnxmltools.convert.xgboost.operator_converters import XGBoost  # noqa: F401
        else:
            from onnxmltools.convert.lightgbm.operator_converters import LightGbm  # noqa: F401
    except ImportError as exc:
        raise DependencyMissing(
            f"converting {boosters.display_name(library)} models to ONNX needs onnxmltools, "
            f"which is not installed; {boosters.extra_hint(library)}"
        ) from exc
    return _convert_xgboost if library == "xgboost" else _convert_lightgbm


def _convert_xgboost(scope: Any, operator: Any, container: Any) -> None:
    """onnxmltools' XGBoost converter, fed the booster without its feature names.

    onnxmltools reads a split's feature from the tree dump, where XGBoost writes the feature's
    name if the model was fitted on a DataFrame; it takes names of the form f<index> only, and
    would read a column named "f3" as feature 3 wherever it stands. Without names the dump
    says f<position>, which is what the graph's input columns are.
    """
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost

    unnamed = operator.raw_operator.get_booster().copy()
    unnamed.feature_names = None
    _convert_with(convert_xgboost, unnamed, scope, operator, container)


def _convert_lightgbm(scope: Any, operator: Any, container: Any) -> None:
    """onnxmltools' LightGBM converter, fed split thresholds a float32 input compares exactly
    as LightGBM compares it.

    LightGBM splits on `x <= t` with t a double; the ONNX graph compares float32 inputs with
    float32 thresholds, and onnxmltools rounds t to the nearest float32, which may lie above
    t: an input between the two then takes the other branch (measured: probabilities off by
    0.06 on breast-cancer rows). For a float32 x, `x <= t` holds exactly when x <= the largest
    float32 not above t, so that is the threshold given to onnxmltools. It reads the trees
    from `booster_.dump_model()` when the booster says `is_mock` (its hook for boosters that
    are not LightGBM's own object).
    """
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

    booster = _DumpedBooster(_floored(operator.raw_operator.booster_.dump_model()))
    _convert_with(convert_lightgbm, booster, scope, operator, container)


def _convert_with(convert: Any, booster: Any, scope: Any, operator: Any, container: Any) -> None:
    """Run onnxmltools' `convert` on a shallow copy of the model holding `booster` instead of
    its own (a real wrapper still, so onnxmltools reads everything else from it as usual)."""
    model = operator.raw_operator
    substitute = copy.copy(model)
    substitute._Booster = booster
    operator.raw_operator = substitute
    try:
        convert(scope, operator, container)
    finally:
        operator.raw_operator = model


class _DumpedBooster:
    """A LightGBM booster as onnxmltools reads it: its tree dump, prepared beforehand."""

    is_mock = True

    def __init__(self, dump: dict[str, Any]) -> None:
        self._dump = dump

    def dump_model(self) -> dict[str, Any]:
        return self._dump


def _floored(dump: dict[str, Any]) -> dict[str, Any]:
    """`dump` with every numeric split's threshold lowered to the largest float32 <= it."""
    stack = [tree["tree_structure"] for tree in dump.get("tree_info", [])]
    while stack:
        node = stack.pop()
        if node.get("decision_type") == "<=":
            node["threshold"] = floor_float32(float(node["threshold"]))
        stack.extend(node[side] for side in ("left_child", "right_child") if side in node)
    return dump


def floor_float32(value: float) -> float:
    """The largest float32 that is <= `value` (-inf below float32's range)."""
    import numpy as np

    with np.errstate(over="ignore"):
        rounded = np.float32(value)
    if float(rounded) > value:
        rounded = np.nextafter(rounded, np.float32(-np.inf))
    return float(rounded)
