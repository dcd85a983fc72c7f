"""Load TensorFlow models: Keras `.keras`/`.h5` files or a SavedModel directory.

Keras files load with `safe_mode=True`, which refuses the Python lambdas a `.keras` file
may carry: loading a model must not run code from the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from converters.base import SourceModel
from converters.errors import ModelLoadError, first_line
from model_repo.formats.savedmodel import SIGNATURE_KEY, import_tensorflow


def load(path: Path) -> SourceModel:
    tf = import_tensorflow()
    if path.is_dir():
        obj, kind = _load_saved_model(tf, path), "savedmodel"
    else:
        obj, kind = _load_keras(path), "keras"
    libraries = {"tensorflow": tf.__version__}
    if kind == "keras":
        libraries["keras"] = _keras_version()
    return SourceModel("tensorflow", obj, path, kind, libraries=libraries)


def _keras_version() -> str:
    import keras

    return str(keras.__version__)


def _load_keras(path: Path) -> Any:
    import keras

    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # keras raises ValueError, OSError, zipfile and h5py errors ...
        raise ModelLoadError(
            f"{path.name} is not a Keras model Keras {keras.__version__} can load safely: "
            f"{type(exc).__name__}: {first_line(exc)}. Save it with model.save('model.keras'); "
            "custom layers must be registered with @keras.saving.register_keras_serializable "
            "and importable, and Lambda layers are refused"
        ) from exc


def _load_saved_model(tf: Any, path: Path) -> Any:
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as exc:  # TF raises OSError, NotFoundError, ValueError ...
        raise ModelLoadError(
            f"{path.name} is not a loadable TensorFlow SavedModel: {type(exc).__name__}: "
            f"{first_line(exc)}"
        ) from exc
    if SIGNATURE_KEY not in getattr(loaded, "signatures", {}):
        raise ModelLoadError(
            f"the SavedModel {path.name} has no {SIGNATURE_KEY!r} signature, so there is "
            "nothing to serve; export it with model.export(path) (Keras) or "
            "tf.saved_model.save(module, path, signatures=...)"
        )
    return loaded
