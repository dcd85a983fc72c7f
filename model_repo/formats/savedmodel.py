"""TensorFlow SavedModel artifacts, served through their `serving_default` signature.

The artifact is a directory (`saved_model/` in the version dir). `describe` reads the
signature from `saved_model.pb` without loading the model's variables; `open` loads it with
`tf.saved_model.load` and calls the signature's concrete function, which TensorFlow allows
from several threads at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from model_repo.errors import ArtifactError, DependencyMissing, InvalidArgument
from model_repo.formats.base import Tensors
from model_repo.signature import Signature, TensorSpec, numpy_dtype, v2_datatype

SIGNATURE_KEY = "serving_default"
SAVED_MODEL_PB = "saved_model.pb"


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


class SavedModelFormat:
    name = "savedmodel"
    artifact_name = "saved_model"
    platform = "tensorflow_savedmodel"
    missing_strings = False  # a tf.string tensor has no missing value

    def describe(self, path: Path) -> Signature:
        signature_def = _serving_signature_def(path)
        inputs = [_tensor_spec(k, v, path) for k, v in sorted(signature_def.inputs.items())]
        outputs = [_tensor_spec(k, v, path) for k, v in sorted(signature_def.outputs.items())]
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
        tf = import_tensorflow()
        try:
            loaded = tf.saved_model.load(str(path))
        except Exception as exc:  # TF raises OSError, NotFoundError, ValueError ...
            raise ArtifactError(
                f"TensorFlow cannot load the SavedModel {path.name}: {exc}"
            ) from exc
        return SavedModelPredictor(loaded, signature, path.name)


class SavedModelPredictor:
    """Calls a loaded SavedModel's serving_default with tensors named as in `signature`."""

    def __init__(self, loaded: Any, signature: Signature, source: str) -> None:
        function = getattr(loaded, "signatures", {}).get(SIGNATURE_KEY)
        if function is None:
            raise ArtifactError(_no_serving_signature(source))
        self.signature = signature
        self._tf = import_tensorflow()
        self._loaded = loaded  # the function's variables live only as long as this object
        self._function = function

    def predict(self, inputs: Mapping[str, np.ndarray]) -> Tensors:
        if self._function is None:
            raise ArtifactError("this SavedModel predictor was closed")
        feed = self._feed(inputs)
        try:
            results = self._function(**feed)
        except (self._tf.errors.InvalidArgumentError, TypeError, ValueError) as exc:
            raise InvalidArgument(f"the SavedModel refused the inputs: {exc}") from exc
        return {o.name: _as_numpy(results[o.name], o) for o in self.signature.outputs}

    def close(self) -> None:
        self._function = None
        self._loaded = None

    def _feed(self, inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
        expected = self.signature.input_names
        missing = [n for n in expected if n not in inputs]
        unknown = [n for n in inputs if n not in expected]
        if missing or unknown:
            raise InvalidArgument(
                f"the model takes inputs {', '.join(expected)}; missing: "
                f"{', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'}"
            )
        feed = {}
        for spec in self.signature.inputs:
            try:
                array = np.asarray(inputs[spec.name], dtype=numpy_dtype(spec.datatype))
            except (TypeError, ValueError) as exc:
                raise InvalidArgument(
                    f"input {spec.name!r} must be {spec.datatype}: {exc}"
                ) from exc
            feed[spec.name] = self._tf.constant(array)
        return feed


def _serving_signature_def(path: Path) -> Any:
    if not (path / SAVED_MODEL_PB).is_file():
        raise ArtifactError(
            f"{path.name} is not a TensorFlow SavedModel directory: it has no {SAVED_MODEL_PB}. "
            "Write one with model.export(path) (Keras 3) or tf.saved_model.save(module, path)"
        )
    import_tensorflow()
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString((path / SAVED_MODEL_PB).read_bytes())
    except Exception as exc:  # protobuf's DecodeError, OSError
        raise ArtifactError(f"{path.name}/{SAVED_MODEL_PB} cannot be read: {exc}") from exc
    for meta_graph in proto.meta_graphs:
        if SIGNATURE_KEY in meta_graph.signature_def:
            return meta_graph.signature_def[SIGNATURE_KEY]
    raise ArtifactError(_no_serving_signature(path.name))


def _no_serving_signature(source: str) -> str:
    return (
        f"the SavedModel {source} has no {SIGNATURE_KEY!r} signature, which is what gets "
        "served; save it with tf.saved_model.save(module, path, signatures={'serving_default': "
        "fn}) or, for Keras, model.export(path)"
    )


def _tensor_spec(name: str, info: Any, path: Path) -> TensorSpec:
    tf = import_tensorflow()
    if info.WhichOneof("encoding") != "name":
        raise ArtifactError(
            f"{path.name}: tensor {name!r} is sparse or composite; only dense tensors can be served"
        )
    if info.tensor_shape.unknown_rank:
        raise ArtifactError(
            f"{path.name}: tensor {name!r} has no known rank; give the signature a TensorSpec "
            "with a shape (None for free dimensions)"
        )
    try:
        datatype = v2_datatype(tf.dtypes.as_dtype(info.dtype).as_numpy_dtype)
    except (TypeError, ValueError, InvalidArgument) as exc:
        raise ArtifactError(f"{path.name}: tensor {name!r} has a dtype V2 cannot carry") from exc
    shape = tuple(max(int(d.size), -1) for d in info.tensor_shape.dim)
    return TensorSpec(name, datatype, shape)


def _as_numpy(tensor: Any, spec: TensorSpec) -> np.ndarray:
    array: np.ndarray = tensor.numpy()
    dtype = numpy_dtype(spec.datatype)
    return array if array.dtype == dtype else array.astype(dtype)


FORMAT = SavedModelFormat()
