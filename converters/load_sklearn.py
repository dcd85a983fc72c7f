"""Load scikit-learn models: .skops (safe, type-checked) or .joblib/.pkl (trusted files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from converters import boosters
from converters.base import SourceModel
from converters.errors import ModelLoadError
from converters.skops_trust import refused_types


def load(path: Path, kind: str | None = None) -> SourceModel:
    """The estimator in `path`, read as `kind` ("skops" or "joblib"; by default from the
    suffix: an MLflow model names its format in MLmodel, whatever its file is called)."""
    kind = kind or ("skops" if path.suffix.lower() == ".skops" else "joblib")
    obj = _load_skops(path) if kind == "skops" else _load_pickle(path)
    if not (hasattr(obj, "fit") and hasattr(obj, "predict") and hasattr(obj, "get_params")):
        raise ModelLoadError(
            f"{path.name} holds a {type(obj).__module__}.{type(obj).__qualname__}, "
            "not a scikit-learn estimator"
        )
    _require_fitted(obj, path)
    return SourceModel("sklearn", obj, path, kind, libraries=library_versions(obj))


def library_versions(model: Any) -> dict[str, str]:
    """scikit-learn's version, and XGBoost's or LightGBM's when the model holds their
    estimators."""
    import sklearn

    found = {"scikit-learn": sklearn.__version__}
    for library in sorted(boosters.libraries_in(model)):
        found[library] = boosters.import_library(library).__version__
    return found


def _load_skops(path: Path) -> Any:
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:  # skops raises BadZipFile, KeyError, JSONDecodeError ...
        raise ModelLoadError(f"{path.name} is not a readable .skops file: {exc}") from exc
    refused = refused_types(untrusted)
    if refused:
        raise ModelLoadError(
            f"{path.name} contains types that neither skops nor modelport trusts: "
            f"{', '.join(refused)}. Loading them could run code the file names, so modelport "
            "will not; if they are yours and safe, save the model as .joblib and convert it "
            "locally (pickles are trusted local files only)"
        )
    try:
        return skops.io.load(path, trusted=untrusted)  # every one of them checked above
    except Exception as exc:
        _raise_if_library_missing(exc)
        raise ModelLoadError(f"{path.name} could not be loaded by skops: {exc}") from exc


def _load_pickle(path: Path) -> Any:
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # unpickling raises anything at all
        _raise_if_library_missing(exc)
        raise ModelLoadError(
            f"{path.name} is not a readable joblib/pickle file: {type(exc).__name__}: {exc}"
        ) from exc


def _raise_if_library_missing(exc: Exception) -> None:
    """A model of XGBoost or LightGBM without the library is a missing extra, not a bad file."""
    missing = boosters.missing_library(exc)
    if missing is not None:
        raise missing from exc


def _require_fitted(obj: Any, path: Path) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(obj)
    except NotFittedError as exc:
        raise ModelLoadError(f"{path.name} holds an estimator that was never fitted") from exc
    except TypeError:
        pass  # not an estimator check_is_fitted knows; the converter will say what fails
