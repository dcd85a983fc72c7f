"""What every artifact format provides: describe an artifact, open it for inference."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from model_repo.signature import Signature

Tensors = dict[str, np.ndarray]


@runtime_checkable
class Predictor(Protocol):
    """An opened artifact. `predict` takes and returns tensors named as in `signature`."""

    signature: Signature

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors: ...

    def close(self) -> None: ...


class ArtifactFormat(Protocol):
    """One artifact format: its file name, V2 platform name and runtime."""

    name: str  # "onnx"
    artifact_name: str  # "model.onnx" inside the version dir
    platform: str  # V2 model metadata platform, e.g. "onnx_onnxv1"

    def describe(self, path: Path) -> Signature:
        """Read an artifact's signature without loading a runtime where possible."""
        ...

    def open(
        self,
        path: Path,
        signature: Signature | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Predictor:
        """Load the artifact with its runtime. `signature`, when given, is what the
        manifest recorded; the predictor returns outputs with exactly those names and
        datatypes."""
        ...
