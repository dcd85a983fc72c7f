"""What the scikit-learn converters share, so that every format gets the same contract.

Inputs: a model fitted on a DataFrame takes one input per column ([-1, 1]; FP32 for numbers,
BYTES for strings); a model fitted on an array takes one `input` [-1, n_features] FP32.
Outputs: a classifier gives `label` [-1] and, when it has predict_proba, `probabilities`
[-1, n_classes] FP32 in `classes_` order; a regressor gives `prediction` FP32 ([-1], or
[-1, n_targets] for several targets).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from converters.base import Sample, SourceModel, Tensors
from converters.errors import UnsupportedConversion
from model_repo.manifest import Tolerance
from model_repo.signature import TensorSpec

ARRAY_INPUT = "input"
TREE_MODULES = ("sklearn.ensemble", "sklearn.tree")
CONTINUOUS = Tolerance(rtol=1e-5, atol=1e-5)
# float32 inputs may sit on a split threshold and go the other way; neighbours may tie.
DISCRETE = Tolerance(rtol=1e-4, atol=1e-5, mismatch_budget=0.01)


# ---- walking an estimator ----------------------------------------------------------------


def iter_steps(model: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every estimator and transformer inside `model`, with a readable path to it."""
    here = path or type(model).__name__
    yield here, model
    if hasattr(model, "steps"):  # Pipeline
        for name, step in model.steps:
            if step not in (None, "passthrough"):
                yield from iter_steps(step, f"{here}/{name}")
    transformers = getattr(model, "transformers_", None)  # fitted ColumnTransformer
    if transformers is not None:
        for name, transformer, _columns in transformers:
            if transformer not in ("drop", "passthrough"):
                yield from iter_steps(transformer, f"{here}/{name}")


def final_estimator(model: Any) -> Any:
    while hasattr(model, "steps"):
        model = model.steps[-1][1]
    return model


def check_steps(model: Any, target: str, supports: Callable[[type], bool]) -> None:
    """Raise UnsupportedConversion naming the first step `target` cannot convert."""
    for path, step in iter_steps(model):
        if supports(type(step)):
            continue
        cls = type(step)
        others = [t for t in formats_supporting(cls) if t != target]
        where = (
            f"formats that support it: {', '.join(others)}"
            if others
            else ("no modelport format supports it")
        )
        raise UnsupportedConversion(
            f"step {path!r} ({cls.__module__}.{cls.__qualname__}) has no {target} converter; "
            f"{where}"
        )


def formats_supporting(cls: type) -> list[str]:
    from converters.registry import get_converter, targets_for

    found = []
    for target in targets_for("sklearn"):
        converter = get_converter("sklearn", target)
        if getattr(converter, "supports", lambda _c: False)(cls):
            found.append(target)
    return found


def is_classifier(model: Any) -> bool:
    return hasattr(final_estimator(model), "classes_")


def class_labels(model: Any) -> tuple[Any, ...] | None:
    if not is_classifier(model):
        return None
    return tuple(_plain(c) for c in final_estimator(model).classes_)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# ---- the contract -------------------------------------------------------------------------


def string_columns(model: Any) -> set[str]:
    """Columns that an encoder inside the model saw as strings."""
    return {
        column
        for column, values in categories_by_column(model).items()
        if any(isinstance(v, str) for v in values)
    }


def categories_by_column(model: Any) -> dict[str, list[Any]]:
    """The categories encoders learned, per named column (missing-value markers left out)."""
    found: dict[str, list[Any]] = {}
    for _path, step in iter_steps(model):
        for _name, transformer, columns in getattr(step, "transformers_", ()):
            names = [columns] if isinstance(columns, str) else list(columns)
            if transformer in ("drop", "passthrough") or not _names(names):
                continue
            for _p, inner in iter_steps(transformer):
                for column, cats in zip(names, getattr(inner, "categories_", ()), strict=False):
                    values = [_plain(c) for c in cats if isinstance(c, str) or np.isfinite(c)]
                    if values:
                        found[str(column)] = values
    return found


def _names(columns: Any) -> bool:
    return all(isinstance(c, str) for c in columns)


def input_specs(model: Any) -> tuple[TensorSpec, ...]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        strings = string_columns(model)
        return tuple(
            TensorSpec(str(n), "BYTES" if n in strings else "FP32", (-1, 1)) for n in names
        )
    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        raise UnsupportedConversion(
            f"{type(model).__name__} does not record its number of input features "
            "(n_features_in_); refit it with scikit-learn >= 1.0"
        )
    return (TensorSpec(ARRAY_INPUT, "FP32", (-1, int(n_features))),)


def label_datatype(model: Any) -> str:
    classes = np.asarray(final_estimator(model).classes_)
    if classes.dtype.kind in "iu":
        return "INT64"
    if classes.dtype.kind in "OUS" and all(isinstance(c, str) for c in classes):
        return "BYTES"
    raise UnsupportedConversion(
        f"class labels of type {classes.dtype} are not supported; use integer or string labels"
    )


def output_specs(model: Any) -> tuple[TensorSpec, ...]:
    estimator = final_estimator(model)
    if is_classifier(model):
        label = TensorSpec("label", label_datatype(model), (-1,))
        if not hasattr(estimator, "predict_proba"):
            return (label,)
        n_classes = len(estimator.classes_)
        return (label, TensorSpec("probabilities", "FP32", (-1, n_classes)))
    if not hasattr(estimator, "predict"):
        raise UnsupportedConversion(
            f"{type(estimator).__name__} is neither classifier nor regressor"
        )
    n_targets = int(getattr(estimator, "n_outputs_", 1) or 1)
    coef = getattr(estimator, "coef_", None)
    if coef is not None and np.ndim(coef) == 2 and np.shape(coef)[0] > 1:
        n_targets = int(np.shape(coef)[0])
    shape = (-1,) if n_targets == 1 else (-1, n_targets)
    return (TensorSpec("prediction", "FP32", shape),)


def source_frame(model: Any, inputs: Tensors) -> Any:
    """The inputs as the source model takes them: a DataFrame or a float64 array."""
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return np.asarray(inputs[ARRAY_INPUT], dtype=np.float64)
    import pandas as pd

    columns = {}
    for name in names:
        values = np.asarray(inputs[str(name)]).reshape(-1)
        columns[str(name)] = values if values.dtype == object else values.astype(np.float64)
    return pd.DataFrame(columns)


def reference(model: Any, inputs: Tensors) -> Tensors:
    x = source_frame(model, inputs)
    specs = {s.name: s for s in output_specs(model)}
    if "label" in specs:
        labels = np.asarray(model.predict(x))
        if specs["label"].datatype == "INT64":
            labels = labels.astype(np.int64)
        else:
            labels = labels.astype(str).astype(object)
        out: Tensors = {"label": labels}
        if "probabilities" in specs:
            out["probabilities"] = np.asarray(model.predict_proba(x), dtype=np.float32)
        return out
    prediction = np.asarray(model.predict(x), dtype=np.float32)
    if specs["prediction"].shape == (-1,):
        prediction = prediction.reshape(-1)
    return {"prediction": prediction}


def tolerance(model: Any) -> Tolerance:
    estimator = final_estimator(model)
    module = type(estimator).__module__
    if module.startswith(TREE_MODULES) or module.startswith("sklearn.neighbors"):
        return DISCRETE
    return CONTINUOUS


class SklearnContract:
    """The part of a scikit-learn converter that every target format shares."""

    framework = "sklearn"

    def input_specs(self, model: SourceModel) -> tuple[TensorSpec, ...]:
        return input_specs(model.obj)

    def synthesize(self, model: SourceModel, rows: int, seed: int) -> Sample:
        return synthesize(model, rows, seed)

    def reference(self, model: SourceModel, inputs: Tensors) -> Tensors:
        return reference(model.obj, inputs)

    def tolerance(self, model: SourceModel) -> Tolerance:
        return tolerance(model.obj)


# ---- synthetic samples --------------------------------------------------------------------


def synthesize(source: SourceModel, rows: int, seed: int) -> Sample:
    """Inputs drawn from what the fitted model itself records about its features."""
    model = source.obj
    specs = input_specs(model)
    rng = np.random.default_rng(seed)
    categories = categories_by_column(model)
    loc, scale, how = _numeric_ranges(model, specs)
    tensors: Tensors = {}
    numeric_index = 0
    for spec in specs:
        if spec.datatype == "BYTES":
            choices = [str(c) for c in categories.get(spec.name, ())] or ["a"]
            tensors[spec.name] = rng.choice(np.asarray(choices, dtype=object), (rows, 1))
            continue
        width = spec.shape[1]
        mu = loc[numeric_index : numeric_index + width]
        sigma = scale[numeric_index : numeric_index + width]
        numeric_index += width
        if spec.name in categories:  # a numeric column an encoder treats as categories
            values = np.asarray(categories[spec.name], dtype=np.float32)
            tensors[spec.name] = rng.choice(values, (rows, 1))
            continue
        tensors[spec.name] = (mu + sigma * rng.standard_normal((rows, width))).astype(np.float32)
    return Sample(tensors, source=f"synthesized:{rows} rows from {how}")


def _numeric_ranges(
    model: Any, specs: tuple[TensorSpec, ...]
) -> tuple[np.ndarray, np.ndarray, str]:
    """Centre and spread for every numeric feature, in input order."""
    numeric = [s for s in specs if s.datatype != "BYTES"]
    width = sum(s.shape[1] for s in numeric)
    loc, scale = np.zeros(width), np.ones(width)
    names = [s.name for s in numeric] if len(specs) > 1 or specs[0].name != ARRAY_INPUT else None
    found = False
    for _path, step in iter_steps(model):
        stats = _scaler_stats(step)
        if stats is None:
            continue
        columns = _columns_of(model, step, names)
        mu, sigma = stats
        for i, index in enumerate(columns[: len(mu)]):
            if index is not None:
                loc[index], scale[index] = mu[i], sigma[i]
                found = True
    if found:
        return loc, scale, "scaler statistics"
    thresholds = _tree_thresholds(final_estimator(model), width)
    if thresholds is not None and names is None:
        return thresholds[0], thresholds[1], "tree split thresholds"
    return loc, scale, "a standard normal"


def _scaler_stats(step: Any) -> tuple[np.ndarray, np.ndarray] | None:
    if hasattr(step, "mean_") and hasattr(step, "scale_") and step.scale_ is not None:
        return np.asarray(step.mean_, float), np.asarray(step.scale_, float)
    if hasattr(step, "data_min_") and hasattr(step, "data_max_"):
        low, high = np.asarray(step.data_min_, float), np.asarray(step.data_max_, float)
        return (low + high) / 2, np.maximum((high - low) / 2, 1e-3)
    return None


def _columns_of(model: Any, step: Any, names: list[str] | None) -> list[int | None]:
    """Input positions of the features a scaler saw (None for ones not in the input)."""
    step_names = getattr(step, "feature_names_in_", None)
    if names is not None and step_names is not None:
        return [names.index(str(n)) if str(n) in names else None for n in step_names]
    n = int(getattr(step, "n_features_in_", 0))
    return list(range(n))


def _tree_thresholds(estimator: Any, width: int) -> tuple[np.ndarray, np.ndarray] | None:
    trees = (
        [estimator]
        if hasattr(estimator, "tree_")
        else list(np.ravel(getattr(estimator, "estimators_", [])))
    )
    low, high = np.full(width, np.inf), np.full(width, -np.inf)
    for tree in trees:
        inner = getattr(tree, "tree_", None)
        if inner is None:
            continue
        split = inner.feature >= 0
        for feature, threshold in zip(inner.feature[split], inner.threshold[split], strict=True):
            low[feature] = min(low[feature], threshold)
            high[feature] = max(high[feature], threshold)
    bins = getattr(getattr(estimator, "_bin_mapper", None), "bin_thresholds_", None)
    if bins is not None:
        for feature, values in enumerate(bins[:width]):
            if len(values):
                low[feature] = min(low[feature], float(np.min(values)))
                high[feature] = max(high[feature], float(np.max(values)))
    if not np.isfinite(low).any():
        return None
    low = np.where(np.isfinite(low), low, 0.0)
    high = np.where(np.isfinite(high), high, 1.0)
    return (low + high) / 2, np.maximum((high - low) / 2, 0.5)
