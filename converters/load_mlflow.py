"""Load the model of an MLflow model directory with modelport's own loaders (no MLflow).

`mlflow_model` says which flavor and file; the file is then loaded exactly as the same file
given on its own would be (`load_sklearn`, `load_torch`, `load_tensorflow`), with the same
rules: a pickle (an sklearn model serialized with pickle or cloudpickle) only when pickles
are allowed, skops files checked against modelport's trusted types (the `skops_trusted_types`
an MLmodel lists are the uploader's word and are not used), `torch.save` pickles never
(TorchScript and `torch.export` programs only), Keras files in safe mode.

What the directory adds is kept in the source model's `Package`: the MLflow metadata for
the manifest's notes, the signature (compared with the artifact's inputs by the pipeline;
for TorchScript, which records no shapes, its tensor specs become the inputs) and the input
example (rows for the parity check).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from converters.base import Package, SourceModel
from converters.errors import ModelLoadError
from converters.mlflow_model import MlflowModel, pickle_refusal, read_mlmodel
from converters.mlflow_schema import read_example, signature_inputs, tensor_specs
from model_repo.signature import TensorSpec

_IGNORED_PICKLES = ("custom_objects.cloudpickle", "global_custom_objects.cloudpickle")


def load(directory: Path, allow_pickle: bool = True) -> SourceModel:
    model = read_mlmodel(directory)
    if model.pickled and not allow_pickle:
        raise ModelLoadError(pickle_refusal(model))
    source = _load_artifact(model)
    inputs = signature_inputs(model)
    example = read_example(model)
    package = Package(
        kind="mlflow",
        path=directory,
        notes={**model.notes(), **_ignored(model)},
        input_specs=_torchscript_specs(source, inputs, example),
        example=None if example is None else example[0],
        example_name="" if example is None else example[1],
        signature=inputs,
    )
    return replace(source, package=package)


def _load_artifact(model: MlflowModel) -> SourceModel:
    if model.framework == "sklearn":
        from converters import load_sklearn

        kind = "skops" if model.serialization == "skops" else "joblib"
        return load_sklearn.load(model.artifact, kind=kind)
    if model.framework == "torch":
        return _load_torch(model)
    from converters import load_tensorflow

    return load_tensorflow.load(model.artifact)


def _load_torch(model: MlflowModel) -> SourceModel:
    from converters import load_torch

    try:
        return load_torch.load(model.artifact, exported=model.serialization == "pt2")
    except ModelLoadError as exc:
        raise ModelLoadError(
            f"{model.directory.name} (MLflow pytorch flavor): {exc}. With MLflow, log "
            "torch.jit.script(model), or use serialization_format='pt2'"
        ) from exc


def _torchscript_specs(
    source: SourceModel, inputs: list[dict[str, Any]] | None, example: tuple[Any, str] | None
) -> tuple[TensorSpec, ...] | None:
    """A TorchScript module's inputs, which it does not record: the signature's tensors,
    else the example's arrays (as a sample file's would be read)."""
    if source.kind != "torchscript":
        return None
    from converters.torch_inputs import input_names, specs_from_arrays, torchscript_arity

    arity = torchscript_arity(source.obj)
    specs = tensor_specs(inputs, input_names(arity)) if inputs else None
    if specs is None and example is not None and not hasattr(example[0], "columns"):
        data, name = example
        arrays = data if isinstance(data, dict) else {"input": data}
        specs = specs_from_arrays(arrays, arity, name)
    return specs


def _ignored(model: MlflowModel) -> dict[str, Any]:
    """What the directory holds that modelport deliberately does not read."""
    ignored = [
        f"{model.artifact.parent.name}/{name}"
        for name in _IGNORED_PICKLES
        if (model.artifact.parent / name).is_file()
    ]
    trusted = (model.config.get("flavors") or {}).get("sklearn", {}).get("skops_trusted_types")
    if trusted:
        ignored.append("skops_trusted_types (modelport's own trusted types apply)")
    return {"not_read": ignored} if ignored else {}
