"""What the scikit-learn converters share, so that every format gets the same contract.

Inputs: a model fitted on a DataFrame takes one input per column ([-1, 1]; FP32 for numbers,
BYTES for strings and for text a vectorizer reads); a model fitted on an array takes one
`input` [-1, n_features] FP32; a model whose first step is a text vectorizer (fitted on a
list of documents) takes one `input` [-1, 1] BYTES, a document per row. FP32 inputs take NaN
as a missing value wherever the model does (see `sklearn_missing`).
Outputs: a classifier gives `label` [-1] and, when it has predict_proba, `probabilities`
[-1, n_classes] FP32 in `classes_` order; a regressor gives `prediction` FP32 ([-1], or
[-1, n_targets] for several targets).

The converters' shared base class and tolerances are in `sklearn_contract`, synthetic
samples in `sklearn_synth`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from converters.errors import UnsupportedConversion
from model_repo.formats.base import Tensors
from model_repo.signature import TensorSpec

ARRAY_INPUT = "input"


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
    """Columns that an encoder inside the model saw as strings, or a vectorizer reads."""
    strings = {
        column
        for column, values in categories_by_column(model).items()
        if any(isinstance(v, str) for v in values)
    }
    return strings | set(text_inputs(model))


def is_vectorizer(step: Any) -> bool:
    """CountVectorizer and its subclass TfidfVectorizer: raw text in, token counts out."""
    from sklearn.feature_extraction.text import CountVectorizer

    return isinstance(step, CountVectorizer)


def takes_raw_text(model: Any) -> bool:
    """True for a model fitted on a list of documents: its first step is a vectorizer."""
    return is_vectorizer(first_step(model))


def text_inputs(model: Any) -> dict[str, Any]:
    """Input name -> the vectorizer reading it: `input` for a model fitted on documents,
    else each DataFrame column a ColumnTransformer hands to a vectorizer (a vectorizer
    takes one column, named by a string)."""
    if takes_raw_text(model):
        return {ARRAY_INPUT: first_step(model)}
    found = {}
    for _path, step in iter_steps(model):
        for _name, transformer, column in getattr(step, "transformers_", ()):
            if isinstance(column, str) and is_vectorizer(first_step(transformer)):
                found[column] = first_step(transformer)
    return found


def categories_by_column(model: Any) -> dict[str, list[Any]]:
    """The categories encoders learned, per named column (missing-value markers left out):
    encoders inside a ColumnTransformer, and an encoder that is the model's first step
    (a Pipeline fed the DataFrame's columns straight into a OneHotEncoder)."""
    found: dict[str, list[Any]] = {}
    for _path, step in iter_steps(model):
        for _name, transformer, columns in getattr(step, "transformers_", ()):
            names = [columns] if isinstance(columns, str) else list(columns)
            if transformer in ("drop", "passthrough") or not _names(names):
                continue
            for _p, inner in iter_steps(transformer):
                _add_categories(found, names, getattr(inner, "categories_", ()))
    first = first_step(model)
    first_names = getattr(first, "feature_names_in_", None)
    if first_names is not None and not hasattr(first, "transformers_"):
        _add_categories(found, list(first_names), getattr(first, "categories_", ()))
    return found


def first_step(model: Any) -> Any:
    while hasattr(model, "steps"):
        model = model.steps[0][1]
    return model


def _add_categories(found: dict[str, list[Any]], columns: list[Any], categories: Any) -> None:
    for column, cats in zip(columns, categories, strict=False):
        values = [_plain(c) for c in cats if isinstance(c, str) or np.isfinite(c)]
        if values:
            found[str(column)] = values


def _names(columns: Any) -> bool:
    return all(isinstance(c, str) for c in columns)


def input_specs(model: Any) -> tuple[TensorSpec, ...]:
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        strings = string_columns(model)
        return tuple(
            TensorSpec(str(n), "BYTES" if n in strings else "FP32", (-1, 1)) for n in names
        )
    if takes_raw_text(model):
        return (TensorSpec(ARRAY_INPUT, "BYTES", (-1, 1)),)
    n_features = getattr(model, "n_features_in_", None)
    if n_features is None:
        raise UnsupportedConversion(_unknown_inputs(model))
    return (TensorSpec(ARRAY_INPUT, "FP32", (-1, int(n_features))),)


def _unknown_inputs(model: Any) -> str:
    """Why the inputs of a model recording neither columns nor a feature count are unknown:
    an old scikit-learn, or a first step that takes something other than a table."""
    first = first_step(model)
    fitted_with = str(getattr(first, "_sklearn_version", "") or "")
    if fitted_with and _major_minor(fitted_with) < (1, 0):
        return (
            f"{type(model).__name__} was fitted with scikit-learn {fitted_with}, which does "
            "not record the number of input features (n_features_in_); refit it with "
            "scikit-learn >= 1.0"
        )
    return (
        f"the first step of {type(model).__name__}, {type(first).__name__}, records no "
        "input columns or feature count, so its input is not a table, an array or text; "
        "modelport converts models fitted on a DataFrame, on a numeric array, or on a list "
        "of documents through CountVectorizer / TfidfVectorizer"
    )


def _major_minor(version: str) -> tuple[int, int]:
    major, minor, *_ = [int(p) if p.isdigit() else 0 for p in version.split(".")] + [0, 0]
    return major, minor


def label_datatype(model: Any) -> str:
    classes = np.asarray(final_estimator(model).classes_)
    if classes.dtype.kind in "iu":
        return "INT64"
    if classes.dtype.kind in "OUS" and all(isinstance(c, str) for c in classes):
        return "BYTES"
    raise UnsupportedConversion(
        f"class labels of type {classes.dtype} are not supported; use integer or string labels"
    )


def check_kind(model: Any) -> None:
    """Refuse a model that is neither a classifier nor a regressor (a clusterer, an outlier
    detector ...): the contract has outputs for those two kinds only, in every format."""
    estimator = final_estimator(model)
    if is_classifier(model) or _estimator_type(estimator) == "regressor":
        return
    kind = (_estimator_type(estimator) or "").replace("_", " ")
    what = "neither a classifier nor a regressor"
    if kind:
        what = f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
    raise UnsupportedConversion(
        f"{type(estimator).__name__} is {what}; modelport converts classifiers (outputs "
        "`label` and `probabilities`) and regressors (output `prediction`), to every format"
    )


def _estimator_type(estimator: Any) -> str | None:
    try:
        kind = estimator.__sklearn_tags__().estimator_type
    except Exception:  # not a scikit-learn estimator, or one from before tags
        kind = getattr(estimator, "_estimator_type", None)
    return str(kind) if kind else None


def output_specs(model: Any) -> tuple[TensorSpec, ...]:
    estimator = final_estimator(model)
    if is_classifier(model):
        label = TensorSpec("label", label_datatype(model), (-1,))
        if not hasattr(estimator, "predict_proba"):
            return (label,)
        n_classes = len(estimator.classes_)
        return (label, TensorSpec("probabilities", "FP32", (-1, n_classes)))
    check_kind(model)
    n_targets = int(getattr(estimator, "n_outputs_", 1) or 1)
    coef = getattr(estimator, "coef_", None)
    if coef is not None and np.ndim(coef) == 2 and np.shape(coef)[0] > 1:
        n_targets = int(np.shape(coef)[0])
    shape = (-1,) if n_targets == 1 else (-1, n_targets)
    return (TensorSpec("prediction", "FP32", shape),)


def source_frame(model: Any, inputs: Tensors) -> Any:
    """The inputs as the source model takes them: a DataFrame or a float64 array."""
    names = getattr(model, "feature_names_in_", None)
    if names is None and takes_raw_text(model):
        return np.asarray(inputs[ARRAY_INPUT], dtype=object).reshape(-1)  # the documents
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
