"""What every artifact format provides: describe an artifact, open it for inference.

A format module exposes `FORMAT`, an `ArtifactFormat`, found through `formats.get_format`.
Converters (for the parity check) and the gateway (for serving) both open artifacts through
it, so what was verified is what is served. Errors: `ArtifactError` when the artifact cannot
be read or its runtime refuses it, `DependencyMissing` when the library or runtime a format
needs (onnx, TensorFlow, Java) is not installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from model_repo.signature import Signature
from model_repo.signature_defs import SignatureDef

Tensors = dict[str, np.ndarray]


@runtime_checkable
class Predictor(Protocol):
    """An opened artifact; `predict` may be called from several threads at once.

    `predict` takes tensors keyed by the signature's input names and returns them keyed by
    output name. PMML and SavedModel check the inputs (`InvalidArgument`) and return exactly
    the signature's outputs, cast to its datatypes; ONNX hands the inputs to onnxruntime
    as they are (its own exception on a bad one) and returns every graph output with the
    dtype onnxruntime gives it, which is what `describe` recorded. `close` releases the runtime;
    the predictor must not be used afterwards.
    """

    signature: Signature

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors: ...

    def close(self) -> None: ...


@runtime_checkable
class SignaturePredictor(Predictor, Protocol):
    """A predictor with named signatures besides its default (a SavedModel's classify,
    regress and other predict signatures), which TF Serving requests choose by name.

    `predict_signature` takes tensors keyed by that signature's input keys and returns its
    outputs by key, with the dtypes the runtime gives; shapes are the runtime's to check.
    """

    signature_defs: Mapping[str, SignatureDef]

    def predict_signature(self, key: str, inputs: Mapping[str, np.ndarray]) -> Tensors: ...


class ArtifactFormat(Protocol):
    """One artifact format: its artifact's name in a version dir, V2 platform and runtime."""

    name: str  # "onnx"
    artifact_name: str  # "model.onnx" inside the version dir
    platform: str  # V2 model metadata platform, e.g. "onnx_onnxv1"
    missing_strings: bool  # whether a string input may hold a missing value (None)

    def describe(self, path: Path) -> Signature:
        """Read an artifact's signature without starting its runtime: ONNX reads the graph
        with `onnx`, PMML parses the XML in Python, SavedModel parses `saved_model.pb`
        (TensorFlow must be importable, but no variables are loaded)."""
        ...

    def labels(self, path: Path) -> tuple[Any, ...] | None:
        """A classifier's classes in the order of its `probabilities` columns, when the
        artifact records them (PMML does); None otherwise."""
        ...

    def open(
        self,
        path: Path,
        signature: Signature | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> Predictor:
        """Load the artifact with its runtime. `signature`, when given, is what the
        manifest recorded and becomes the predictor's `signature` (None: `describe`).
        `options` are runtime settings; each format reads those it knows and ignores the
        rest (ONNX: intra_op_threads, inter_op_threads, graph_optimization, allow_spinning;
        PMML: parallelism; SavedModel: none)."""
        ...
