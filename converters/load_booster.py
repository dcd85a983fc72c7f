"""Load native booster files: XGBoost's `model.json` / `.ubj`, LightGBM's `model.txt`.

`.json` and `.txt` are names many other files have, so the suffix only says "perhaps a booster"
and the content decides: XGBoost's JSON is an object with a `learner` key, its UBJSON a binary
object whose first key is `learner`, LightGBM's text model starts with a `tree` line followed
by `version=v...`. Anything else is refused as an unknown model file. These files hold trees
and parameters only, never code, so they are safe to load from an upload.

A native booster has no scikit-learn wrapper; it is loaded into the matching one
(XGBClassifier / XGBRegressor, LGBMClassifier / LGBMRegressor), chosen by the booster's
objective, so it converts through the scikit-learn converters like a wrapper saved with skops.
A native classifier knows no class labels: they are its class indices 0..n-1 (the manifest's
`labels`, and a note in the manifest says so).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from converters import boosters
from converters.base import SourceModel
from converters.errors import ModelLoadError, UnsupportedConversion

SUFFIXES = (".json", ".ubj", ".txt")
_SNIFF_BYTES = 1024
# Objectives whose scikit-learn wrapper gives the contract's outputs: class probabilities,
# or a prediction on the target's own scale.
XGBOOST_CLASSIFIERS = frozenset({"binary:logistic", "multi:softprob"})
XGBOOST_REGRESSORS = frozenset(
    {
        "reg:squarederror",
        "reg:absoluteerror",
        "reg:pseudohubererror",
        "count:poisson",
        "reg:gamma",
        "reg:tweedie",
    }
)
LIGHTGBM_CLASSIFIERS = frozenset({"binary", "multiclass"})
LIGHTGBM_REGRESSORS = frozenset(
    {"regression", "regression_l1", "huber", "poisson", "gamma", "tweedie"}
)


def sniff(raw: bytes) -> str | None:
    """ "xgboost" or "lightgbm" when the bytes are that library's model file, else None."""
    head = raw[:_SNIFF_BYTES]
    if head.startswith((b"tree\n", b"tree\r\n")) and b"\nversion=v" in head:
        return "lightgbm"
    if head.lstrip()[:1] == b"{":
        return "xgboost" if _xgboost_ubjson(head) or _xgboost_json(raw) else None
    return None


def _xgboost_json(raw: bytes) -> bool:
    try:
        document = json.loads(raw)
    except ValueError:  # not JSON text (UBJSON is binary), or not UTF-8
        return False
    return isinstance(document, dict) and "learner" in document


def _xgboost_ubjson(head: bytes) -> bool:
    # `{`, then the key's length: a type marker (i, U, I, l or L) and its bytes, then the key.
    return len(head) > 1 and head[:1] == b"{" and head[1:2] in b"iUIlL" and b"learner" in head[:32]


def load(path: Path) -> SourceModel:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"{path.name} cannot be read: {exc}") from exc
    library = sniff(raw)
    if library is None:
        raise ModelLoadError(
            f"{path.name}: unknown model file type: a {path.suffix} file is read as a native "
            "booster (XGBoost's model.json / .ubj: an object with a 'learner' key; LightGBM's "
            "model.txt: starting with 'tree' and 'version=v...'), and this one is neither"
        )
    module = boosters.import_library(library)
    model, objective = (_xgboost if library == "xgboost" else _lightgbm)(module, raw, path)
    import sklearn

    return SourceModel(
        library,
        model,
        path,
        kind=f"{library}-native",
        libraries={library: module.__version__, "scikit-learn": sklearn.__version__},
        notes={"native_model": _note(library, model, objective)},
    )


def _note(library: str, model: Any, objective: str) -> str:
    name, wrapper = boosters.display_name(library), type(model).__name__
    note = f"native {name} model file (objective {objective}) loaded into {library}.{wrapper}"
    if hasattr(model, "classes_"):
        note += "; a native model has no class labels, so they are its class indices 0..n-1"
    return note


def _xgboost(xgboost: Any, raw: bytes, path: Path) -> tuple[Any, str]:
    try:
        booster = xgboost.Booster(model_file=bytearray(raw))
        config = json.loads(booster.save_config())
    except Exception as exc:  # xgboost.core.XGBoostError, ValueError ...
        raise ModelLoadError(f"{path.name} is not a model XGBoost can load: {exc}") from exc
    objective = str(config["learner"]["objective"]["name"])
    wrapper = _wrapper_kind(path, "XGBoost", objective, XGBOOST_CLASSIFIERS, XGBOOST_REGRESSORS)
    model = xgboost.XGBClassifier() if wrapper == "classifier" else xgboost.XGBRegressor()
    try:
        model.load_model(bytearray(raw))
    except Exception as exc:
        raise ModelLoadError(f"{path.name} is not a model XGBoost can load: {exc}") from exc
    return model, objective


def _lightgbm(lightgbm: Any, raw: bytes, path: Path) -> tuple[Any, str]:
    try:
        text = raw.decode("utf-8")
        booster = lightgbm.Booster(model_str=text)
    except Exception as exc:  # lightgbm.basic.LightGBMError, UnicodeDecodeError ...
        raise ModelLoadError(f"{path.name} is not a model LightGBM can load: {exc}") from exc
    header = _lightgbm_header(text)
    objective = header.get("objective", "").split(" ")[0]
    wrapper = _wrapper_kind(path, "LightGBM", objective, LIGHTGBM_CLASSIFIERS, LIGHTGBM_REGRESSORS)
    n_classes = max(booster.num_model_per_iteration(), 2) if wrapper == "classifier" else 0
    return _lightgbm_wrapper(lightgbm, booster, objective, n_classes), objective


def _lightgbm_header(text: str) -> dict[str, str]:
    """The `key=value` lines before the first tree (`objective=binary sigmoid:1` ...)."""
    header = {}
    for line in text.splitlines():
        if line.startswith("Tree="):
            break
        key, equals, value = line.partition("=")
        if equals:
            header[key.strip()] = value.strip()
    return header


def _wrapper_kind(
    path: Path, name: str, objective: str, classifiers: frozenset[str], regressors: frozenset[str]
) -> str:
    if objective in classifiers:
        return "classifier"
    if objective in regressors:
        return "regressor"
    raise UnsupportedConversion(
        f"{path.name} is a {name} model with objective {objective!r}; modelport converts "
        f"classifiers ({', '.join(sorted(classifiers))}) and regressors "
        f"({', '.join(sorted(regressors))}), whose outputs are class probabilities or a "
        "prediction on the target's scale"
    )


def _lightgbm_wrapper(lightgbm: Any, booster: Any, objective: str, n_classes: int) -> Any:
    """An LGBMClassifier (when `n_classes`) or LGBMRegressor around `booster`, with the
    attributes `fit` sets (the wrappers have no public way to adopt a booster)."""
    import numpy as np
    from sklearn.preprocessing import LabelEncoder

    model = lightgbm.LGBMClassifier() if n_classes else lightgbm.LGBMRegressor()
    names = booster.feature_name()
    model.set_params(objective=objective)
    model._Booster = booster
    model._n_features = model._n_features_in = booster.num_feature()
    model._fitted_with_feature_names = names != [f"Column_{i}" for i in range(len(names))]
    model._objective = model.objective
    model._evals_result, model._best_iteration = {}, booster.best_iteration
    model._best_score = booster.best_score
    if n_classes:
        classes = np.arange(n_classes)
        model._le = LabelEncoder().fit(classes)
        model._classes, model._n_classes = classes, n_classes
        model._class_map = {c: c for c in classes.tolist()}
    model.fitted_ = True
    return model
