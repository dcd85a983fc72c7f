"""TensorFlow SavedModel artifacts: the meta graph tagged `serve`, and all its signatures.

The artifact is a directory (`saved_model/` in the version dir) holding `saved_model.pb` or
its text form `saved_model.pbtxt`. As TF Serving does, modelport serves the meta graph tagged
`serve` (a TF1 export may hold others: `train`, `eval`); the manifest's signature is its
`serving_default`, and `signature_defs` lists every signature (classify and regress ones
included) with the graph tensors they name. `describe` reads the proto without loading the
variables; `open` loads the model with `tf.saved_model.load` (TF1 graphs too: variables,
assets and their init op run) and calls a signature's concrete function, which TensorFlow
allows from several threads at once. Inputs are fed with the shapes they come with:
TensorFlow checks them (an elementwise graph takes `[3]` for `[-1, 1]`, as in TF Serving).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from model_repo.errors import ArtifactError, InvalidArgument
from model_repo.formats._saved_model_proto import (
    SAVED_MODEL_PB,
    SAVED_MODEL_PBTXT,
    SERVE_TAG,
    serving_tags,
    signature_defs,
)
from model_repo.formats._tensorflow import import_tensorflow
from model_repo.formats.base import Tensors
from model_repo.signature import Signature, TensorSpec, numpy_dtype
from model_repo.signature_defs import DEFAULT_SIGNATURE, SignatureDef, TensorInfo

SIGNATURE_KEY = DEFAULT_SIGNATURE
__all__ = [
    "FORMAT",
    "SAVED_MODEL_PB",
    "SAVED_MODEL_PBTXT",
    "SERVE_TAG",
    "SIGNATURE_KEY",
    "SavedModelFormat",
    "SavedModelPredictor",
    "import_tensorflow",
    "serving_tags",
    "signature_defs",
]


class SavedModelFormat:
    name = "savedmodel"
    artifact_name = "saved_model"
    platform = "tensorflow_savedmodel"
    missing_strings = False  # a tf.string tensor has no missing value

    def describe(self, path: Path) -> Signature:
        definitions = signature_defs(path)
        if SIGNATURE_KEY not in definitions:
            raise ArtifactError(_no_serving_signature(path.name))
        definition = definitions[SIGNATURE_KEY]
        inputs = [_tensor_spec(t, path) for t in definition.inputs]
        outputs = [_tensor_spec(t, path) for t in definition.outputs]
        if not outputs:
            raise ArtifactError(f"{path.name}: the {SIGNATURE_KEY} signature has no outputs")
        return Signature.of(inputs, outputs)

    def labels(self, path: Path) -> tuple[Any, ...] | None:
        return None  # a SavedModel signature names no classes

    def open(
        self,
        path: Path,
        signature: Signature | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> SavedModelPredictor:
        signature = signature or self.describe(path)
        tags = serving_tags(path)
        tf = import_tensorflow()
        try:
            loaded = tf.saved_model.load(str(path), tags=tags)
        except Exception as exc:  # TF raises OSError, NotFoundError, ValueError ...
            raise ArtifactError(
                f"TensorFlow cannot load the SavedModel {path.name}: {exc}"
            ) from exc
        return SavedModelPredictor(loaded, signature, path.name, signature_defs(path))


class SavedModelPredictor:
    """Calls a loaded SavedModel's signatures with tensors named by their keys.

    `predict` runs serving_default and casts its outputs to the manifest's `signature`;
    `predict_signature` runs any signature of `signature_defs` and returns what TF gives.
    """

    def __init__(
        self,
        loaded: Any,
        signature: Signature,
        source: str,
        signature_defs: Mapping[str, SignatureDef] | None = None,
    ) -> None:
        functions = getattr(loaded, "signatures", {})
        if SIGNATURE_KEY not in functions:
            raise ArtifactError(_no_serving_signature(source))
        self.signature = signature
        self.signature_defs = dict(signature_defs or {})
        self._tf = import_tensorflow()
        self._loaded = loaded  # the functions' variables live only as long as this object
        self._functions: dict[str, Any] | None = {key: functions[key] for key in functions}
        self._feeds = {
            key: [(t.key, numpy_dtype(t.datatype or "BYTES")) for t in d.inputs]
            for key, d in self.signature_defs.items()
        }
        self._feeds[SIGNATURE_KEY] = [(s.name, numpy_dtype(s.datatype)) for s in signature.inputs]

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors:
        results = self._run(SIGNATURE_KEY, inputs)
        return {o.name: _as_numpy(results[o.name], o) for o in self.signature.outputs}

    def predict_signature(self, key: str, inputs: Mapping[str, np.ndarray]) -> Tensors:
        if key == SIGNATURE_KEY:
            return self.predict(inputs)
        results = self._run(key, inputs)
        return {t.key: results[t.key].numpy() for t in self.signature_defs[key].outputs}

    def close(self) -> None:
        self._functions = None
        self._loaded = None

    def _run(self, key: str, inputs: Mapping[str, np.ndarray]) -> Any:
        if self._functions is None:
            raise ArtifactError("this SavedModel predictor was closed")
        function = self._functions.get(key)
        if function is None or key not in self._feeds:
            known = ", ".join(sorted(self._feeds))
            raise InvalidArgument(f"the SavedModel has no signature {key!r} (signatures: {known})")
        feed = self._feed(self._feeds[key], inputs)
        try:
            return function(**feed)
        except (self._tf.errors.InvalidArgumentError, TypeError, ValueError) as exc:
            raise InvalidArgument(f"the SavedModel refused the inputs: {exc}") from exc

    def _feed(
        self, expected: list[tuple[str, np.dtype[Any]]], inputs: Mapping[str, np.ndarray]
    ) -> dict[str, Any]:
        names = [name for name, _ in expected]
        missing = [n for n in names if n not in inputs]
        unknown = [n for n in inputs if n not in names]
        if missing or unknown:
            raise InvalidArgument(
                f"the model takes inputs {', '.join(names)}; missing: "
                f"{', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'}"
            )
        feed = {}
        for name, dtype in expected:
            try:
                array = np.asarray(inputs[name], dtype=dtype)
            except (TypeError, ValueError) as exc:
                raise InvalidArgument(f"input {name!r} must be {dtype.name}: {exc}") from exc
            feed[name] = self._tf.constant(array)
        return feed


def _no_serving_signature(source: str) -> str:
    return (
        f"the SavedModel {source} has no {SIGNATURE_KEY!r} signature, which is what gets "
        "served; save it with tf.saved_model.save(module, path, signatures={'serving_default': "
        "fn}) or, for Keras, model.export(path)"
    )


def _tensor_spec(tensor: TensorInfo, path: Path) -> TensorSpec:
    """The V2 spec of a serving_default tensor; what V2 cannot describe is refused."""
    if tensor.shape is None:
        raise ArtifactError(
            f"{path.name}: tensor {tensor.key!r} has no known rank; give the signature a "
            "TensorSpec with a shape (None for free dimensions)"
        )
    if tensor.datatype is None:
        raise ArtifactError(
            f"{path.name}: tensor {tensor.key!r} has a dtype V2 cannot carry ({tensor.dtype})"
        )
    return TensorSpec(tensor.key, tensor.datatype, tensor.shape)


def _as_numpy(tensor: Any, spec: TensorSpec) -> np.ndarray:
    array: np.ndarray = tensor.numpy()
    dtype = numpy_dtype(spec.datatype)
    return array if array.dtype == dtype else array.astype(dtype)


FORMAT = SavedModelFormat()
