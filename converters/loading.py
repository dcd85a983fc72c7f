"""Load a trained model from a file, choosing the framework by what the path is: its suffix,
and for the suffixes of native booster files (`.json`, `.ubj`, `.txt`) its content."""

from __future__ import annotations

import importlib
from pathlib import Path

from converters.base import SourceModel
from converters.errors import ModelLoadError
from converters.mlflow_model import MLMODEL_FILE, is_mlflow_dir, read_mlmodel

# suffix -> (framework, loader module); a loader module exposes `load(path, allow_pickle)`.
_BY_SUFFIX: dict[str, tuple[str, str]] = {
    ".skops": ("sklearn", "converters.load_sklearn"),
    ".joblib": ("sklearn", "converters.load_sklearn"),
    ".pkl": ("sklearn", "converters.load_sklearn"),
    ".pickle": ("sklearn", "converters.load_sklearn"),
    ".pt2": ("torch", "converters.load_torch"),
    ".pt": ("torch", "converters.load_torch"),
    ".pth": ("torch", "converters.load_torch"),
    ".keras": ("tensorflow", "converters.load_tensorflow"),
    ".h5": ("tensorflow", "converters.load_tensorflow"),
    ".hdf5": ("tensorflow", "converters.load_tensorflow"),
    # Native booster files; .json and .txt are common suffixes, the loader reads the content.
    ".json": ("xgboost", "converters.load_booster"),
    ".ubj": ("xgboost", "converters.load_booster"),
    ".txt": ("lightgbm", "converters.load_booster"),
}
PICKLE_SUFFIXES = frozenset({".joblib", ".pkl", ".pickle"})
# Suffixes other files have too: only the content tells a native booster (load_booster).
SNIFFED_SUFFIXES = frozenset({".json", ".ubj", ".txt"})
SOURCE_SUFFIXES = tuple(_BY_SUFFIX)  # every source model file modelport converts
SAVED_MODEL_FILE = "saved_model.pb"


def framework_of(path: Path) -> str:
    """The framework a model file belongs to, from its suffix (or SavedModel layout); for
    SNIFFED_SUFFIXES the one whose files usually have it, the content deciding on loading."""
    return _loader_for(path)[0]


def load_source(path: Path, allow_pickle: bool = True) -> SourceModel:
    """Load the model at `path`. Pickle-based files load only when `allow_pickle` is set."""
    if not path.exists():
        raise ModelLoadError(f"model file {path} does not exist")
    if is_mlflow_dir(path):  # the MLmodel file says what it is and whether it is a pickle
        from converters import load_mlflow

        return load_mlflow.load(path, allow_pickle=allow_pickle)
    if path.suffix.lower() in PICKLE_SUFFIXES and not allow_pickle:
        raise ModelLoadError(
            f"{path.name} is a pickle, and loading a pickle runs arbitrary code; it is refused "
            "here. Save the model with skops (.skops) instead, or have the operator allow "
            "pickles (modelport serve --allow-pickle)"
        )
    _framework, module = _loader_for(path)
    loaded: SourceModel = importlib.import_module(module).load(path)
    return loaded


def _loader_for(path: Path) -> tuple[str, str]:
    if path.is_dir():
        if (path / SAVED_MODEL_FILE).is_file():
            return ("tensorflow", "converters.load_tensorflow")
        if is_mlflow_dir(path):
            return (read_mlmodel(path).framework, "converters.load_mlflow")
        raise ModelLoadError(
            f"{path} is a directory with neither {SAVED_MODEL_FILE} nor {MLMODEL_FILE}; the "
            "directory models are TensorFlow SavedModels and MLflow models"
        )
    entry = _BY_SUFFIX.get(path.suffix.lower())
    if entry is None:
        known = ", ".join(sorted(_BY_SUFFIX))
        raise ModelLoadError(
            f"{path.name}: unknown model file type {path.suffix!r}; modelport reads {known}, "
            "or a TensorFlow SavedModel directory"
        )
    return entry
