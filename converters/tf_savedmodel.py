"""TensorFlow / Keras -> SavedModel, served through its `serving_default` signature.

Inputs: a Keras model's inputs, named as Keras names them (`keras.Input(name=...)`, which
is also what `model.export` calls them in serving_default), with their dtype and shape,
the batch free. A SavedModel directory keeps its own serving_default inputs.

Outputs: named as `model.export` names them: `output_0`, `output_1` ... for a tensor or a
list of tensors, the keys for a model that returns a dict.

Export: Keras 3 models with `model.export(dest / "saved_model")`; other tf.Modules with
`tf.saved_model.save`; a SavedModel directory is copied as is, and the parity check still
loads the copy through the savedmodel format and compares it with the source.

Tolerance: rtol 1e-3, atol 1e-4. The SavedModel runs the same float32 kernels as Keras, but
inside a graph that grappler optimises (fused ops, folded constants, oneDNN layouts), which
reorders sums; 1e-3 relative covers that for deep models while catching a wrong layer or
weight, and atol 1e-4 covers outputs near zero.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from converters.base import Export, Sample, SourceModel
from converters.errors import ConversionError, UnsupportedConversion
from converters.synthetic import random_sample
from model_repo.errors import InvalidArgument
from model_repo.formats.base import Tensors
from model_repo.formats.savedmodel import FORMAT, SavedModelPredictor, import_tensorflow
from model_repo.manifest import Tolerance
from model_repo.signature import TensorSpec, v2_datatype

TOLERANCE = Tolerance(rtol=1e-3, atol=1e-4)


class TfSavedModelConverter:
    name = "tf_savedmodel"
    framework = "tensorflow"
    target = "savedmodel"

    def check_environment(self) -> None:
        import_tensorflow()

    def input_specs(self, model: SourceModel) -> tuple[TensorSpec, ...]:
        if model.kind == "savedmodel":
            return FORMAT.describe(model.path).inputs
        return _keras_specs(model.obj, model.path.name)

    def synthesize(self, model: SourceModel, rows: int, seed: int) -> Sample:
        return random_sample(self.input_specs(model), rows, seed)

    def export(self, model: SourceModel, sample: Sample, dest: Path) -> Export:
        target = dest / FORMAT.artifact_name
        how = _write(model, target)
        signature = FORMAT.describe(target)
        if sorted(signature.input_names) != sorted(sample.tensors):
            raise ConversionError(
                f"the exported SavedModel takes inputs {', '.join(signature.input_names)}, "
                f"but {model.path.name} was read as taking {', '.join(sample.tensors)}; "
                "name the model's inputs with keras.Input(name=...) and convert again"
            )
        return Export(signature, notes={"export": how})

    def reference(self, model: SourceModel, inputs: Tensors) -> Tensors:
        if model.kind == "savedmodel":
            signature = FORMAT.describe(model.path)
            return SavedModelPredictor(model.obj, signature, model.path.name).predict(inputs)
        return _run_keras(model.obj, inputs)

    def tolerance(self, model: SourceModel) -> Tolerance:
        return TOLERANCE


def _is_keras(obj: Any) -> bool:
    import keras

    return isinstance(obj, keras.Model)


def _keras_specs(model: Any, source: str) -> tuple[TensorSpec, ...]:
    if not _is_keras(model):
        raise UnsupportedConversion(f"{source} holds a {type(model).__name__}, not a Keras model")
    try:
        inputs = list(model.inputs or ())
    except (AttributeError, ValueError):  # subclassed models that were never called
        inputs = []
    if not inputs:
        raise UnsupportedConversion(
            f"{source} is a subclassed Keras model with no declared inputs; build it as a "
            "Sequential or functional model (keras.Input(...)), or export it yourself with "
            "model.export('saved_model') and convert that directory"
        )
    return tuple(_keras_spec(tensor, source) for tensor in inputs)


def _keras_spec(tensor: Any, source: str) -> TensorSpec:
    shape = tuple(-1 if d is None else int(d) for d in tensor.shape)
    if not shape:
        raise UnsupportedConversion(f"{source}: input {tensor.name!r} has no batch dimension")
    try:
        datatype = v2_datatype(np.dtype(tensor.dtype))
    except (TypeError, ValueError, InvalidArgument) as exc:  # "string": no numpy/V2 datatype
        raise UnsupportedConversion(
            f"{source}: input {tensor.name!r} has dtype {tensor.dtype}, which modelport cannot "
            "feed to a SavedModel; give the model numeric inputs (e.g. apply StringLookup or "
            "TextVectorization before it and convert the model that takes their output)"
        ) from exc
    return TensorSpec(str(tensor.name), datatype, (-1, *shape[1:]))


def _write(model: SourceModel, target: Path) -> str:
    """Write the SavedModel at `target`; how it was made, for the manifest's notes."""
    if model.kind == "savedmodel":
        shutil.copytree(model.path, target)
        return "copied"
    tf = import_tensorflow()
    try:
        if _is_keras(model.obj):
            model.obj.export(str(target), format="tf_saved_model", verbose=False)
            return "keras.Model.export"
        tf.saved_model.save(model.obj, str(target))
        return "tf.saved_model.save"
    except Exception as exc:  # Keras and TF raise ValueError, TypeError, their own errors ...
        raise UnsupportedConversion(
            f"{model.path.name} could not be exported as a SavedModel: {type(exc).__name__}: {exc}"
        ) from exc


def _run_keras(model: Any, inputs: Tensors) -> Tensors:
    import keras

    if isinstance(model, keras.Sequential):
        x: Any = inputs[str(model.inputs[0].name)]
    else:  # functional: the structure (list, dict, tensor) it was built with
        x = keras.tree.map_structure(lambda t: inputs[str(t.name)], model.input)
    result = model(x, training=False)
    if isinstance(result, dict):
        return {str(k): _numpy(v) for k, v in result.items()}
    return {f"output_{i}": _numpy(v) for i, v in enumerate(keras.tree.flatten(result))}


def _numpy(tensor: Any) -> np.ndarray:
    array: np.ndarray = tensor.numpy() if hasattr(tensor, "numpy") else np.asarray(tensor)
    return array


CONVERTER = TfSavedModelConverter()
