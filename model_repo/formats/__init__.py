"""The artifact formats, each in its own module, found through an explicit registry.

Modules are imported on first use so that a process serving only ONNX never imports
TensorFlow or starts Java.
"""

from __future__ import annotations

import importlib

from model_repo.errors import InvalidArgument
from model_repo.formats.base import ArtifactFormat, Predictor, SignaturePredictor, Tensors

_MODULES: dict[str, str] = {
    "onnx": "model_repo.formats.onnx",
    "pmml": "model_repo.formats.pmml",
    "savedmodel": "model_repo.formats.savedmodel",
}
FORMAT_NAMES: tuple[str, ...] = tuple(_MODULES)


def get_format(name: str) -> ArtifactFormat:
    """The format called `name`; an error listing the known formats otherwise."""
    module_name = _MODULES.get(name)
    if module_name is None:
        raise InvalidArgument(
            f"unknown artifact format {name!r}; supported: {', '.join(FORMAT_NAMES)}"
        )
    module = importlib.import_module(module_name)
    fmt: ArtifactFormat = module.FORMAT
    return fmt


__all__ = [
    "FORMAT_NAMES",
    "ArtifactFormat",
    "Predictor",
    "SignaturePredictor",
    "Tensors",
    "get_format",
]
