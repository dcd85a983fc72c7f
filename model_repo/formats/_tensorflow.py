"""TensorFlow, imported lazily and quietly by the modules of the savedmodel format."""

from __future__ import annotations

import os
from typing import Any

from model_repo.errors import DependencyMissing


def import_tensorflow() -> Any:
    """tensorflow, imported quietly, or DependencyMissing naming the extra to install."""
    # TensorFlow's C++ logging reads this once, at import; a user's own setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise DependencyMissing(
            "TensorFlow is not installed; install it with: pip install 'modelport[tensorflow]'"
        ) from exc
    return tf
