"""Synthetic parity samples for scikit-learn models, drawn from what the model recorded.

When no sample file is given, each numeric feature is drawn from a normal distribution
centred where the model says its data lies: a scaler's mean and scale (or a min-max
scaler's range), else the span of a tree model's split thresholds (so samples fall on both
sides of the splits; XGBoost's and LightGBM's trees too), else a standard normal.
Categorical columns draw from the categories an encoder learned, so every value is one the
model knows. Text draws documents from a vectorizer's vocabulary, with unknown words and
punctuation (`sklearn_text.documents`). Columns that take missing values
(`sklearn_missing.nan_features`) get NaN in a tenth of their cells, and all at once in the
first row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from converters import boosters
from converters.base import Sample, SourceModel
from converters.sklearn_common import (
    ARRAY_INPUT,
    categories_by_column,
    final_estimator,
    input_specs,
    iter_steps,
    text_inputs,
)
from converters.sklearn_missing import nan_features
from converters.sklearn_text import documents
from model_repo.formats.base import Tensors
from model_repo.signature import TensorSpec


def synthesize(source: SourceModel, rows: int, seed: int) -> Sample:
    """Inputs drawn from what the fitted model itself records about its features."""
    model = source.obj
    specs = input_specs(model)
    rng = np.random.default_rng(seed)
    categories = categories_by_column(model)
    texts = text_inputs(model)
    loc, scale, how = _numeric_ranges(model, specs)
    notes = [how] if any(s.datatype != "BYTES" for s in specs) else []
    tensors: Tensors = {}
    numeric_index = 0
    for spec in specs:
        if spec.name in texts:
            tensors[spec.name] = documents(texts[spec.name], rng, rows)
            notes.append(f"{spec.name}: documents of the vocabulary's terms and unknown words")
            continue
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
    missing = {k: v for k, v in nan_features(model, specs).items() if k not in categories}
    notes += _with_missing(tensors, missing, rng)
    return Sample(tensors, source=f"synthesized:{rows} rows from {'; '.join(notes)}")


def _with_missing(tensors: Tensors, features: dict[str, list[int]], rng: Any) -> list[str]:
    """NaN in a tenth of the cells of `features`, and in all of them in row 0; a note."""
    for name, columns in features.items():
        values = tensors[name]
        cells = rng.random((values.shape[0], len(columns))) < 0.1
        cells[0] = True
        values[:, columns] = np.where(cells, np.float32(np.nan), values[:, columns])
    return [f"NaN in {', '.join(sorted(features))}"] if features else []


def _numeric_ranges(
    model: Any, specs: tuple[TensorSpec, ...]
) -> tuple[np.ndarray, np.ndarray, str]:
    """Centre and spread for every numeric feature, in input order."""
    numeric = [s for s in specs if s.datatype != "BYTES"]
    width = sum(s.shape[1] for s in numeric)
    loc, scale = np.zeros(width), np.ones(width)
    if not numeric:
        return loc, scale, "no numbers"
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
    if thresholds is not None and (names is None or _feeds_tree_directly(model, specs)):
        return thresholds[0], thresholds[1], "tree split thresholds"
    return loc, scale, "a standard normal"


def _feeds_tree_directly(model: Any, specs: tuple[TensorSpec, ...]) -> bool:
    """A bare tree model fitted on a numeric DataFrame: its feature i is input column i."""
    return model is final_estimator(model) and all(s.datatype != "BYTES" for s in specs)


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
    low, high = np.full(width, np.inf), np.full(width, -np.inf)
    for feature, threshold in _splits(estimator):
        if feature < width:
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


def _splits(estimator: Any) -> Iterator[tuple[int, float]]:
    """(feature, threshold) of every split of a scikit-learn tree model or a booster (XGBoost
    and LightGBM keep their own trees, not scikit-learn's `tree_`)."""
    booster_splits = boosters.split_thresholds(estimator)
    if booster_splits is not None:
        yield from booster_splits
        return
    trees = (
        [estimator]
        if hasattr(estimator, "tree_")
        else list(np.ravel(getattr(estimator, "estimators_", [])))
    )
    for tree in trees:
        inner = getattr(tree, "tree_", None)
        if inner is None:
            continue
        split = inner.feature >= 0
        for feature, threshold in zip(inner.feature[split], inner.threshold[split], strict=True):
            yield int(feature), float(threshold)
