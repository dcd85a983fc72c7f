"""An MLflow model's signature and input example, read without MLflow.

Signature: `MLmodel`'s `signature: inputs:` is a JSON string, either columns
(`[{"name": "age", "type": "double"}, ...]`) or tensors
(`[{"name": "x", "type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]`).
modelport's contract (names, datatypes) comes from the model itself; the signature is
compared with it and any difference is recorded, and it supplies the input shapes of models
that record none (TorchScript).

Input example: `saved_input_example_info` names a JSON file: a DataFrame in pandas'
split orient (`{"columns": [...], "data": [[...]]}`, or `{"data": ...}` without column
names), or tensors as TF Serving writes them (`{"inputs": [[...]]}` or
`{"inputs": {"x": [...]}}`), each possibly wrapped with `params`. It is read into a DataFrame
or arrays; other kinds (sparse matrices, JSON objects for LLMs) are skipped.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from converters.errors import ModelLoadError
from converters.mlflow_model import MlflowModel, inside
from model_repo.signature import TensorSpec, v2_datatype

MAX_EXAMPLE_BYTES = 16 << 20
# MLflow column types -> the V2 datatype family they feed.
_COLUMN_KINDS = {
    "boolean": "number",
    "integer": "number",
    "long": "number",
    "float": "number",
    "double": "number",
    "string": "text",
    "binary": "text",
}


def signature_inputs(model: MlflowModel) -> list[dict[str, Any]] | None:
    """The signature's inputs as MLflow wrote them; None when there is no signature."""
    signature = model.config.get("signature")
    raw = signature.get("inputs") if isinstance(signature, dict) else None
    if raw is None:
        return None
    try:
        inputs = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{model.directory.name}/MLmodel: signature inputs: {exc}") from exc
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise ModelLoadError(f"{model.directory.name}/MLmodel: signature inputs is not a list")
    return inputs


def tensor_specs(inputs: list[dict[str, Any]], names: list[str]) -> tuple[TensorSpec, ...] | None:
    """A tensor signature as modelport specs named `names` (batch free); None for a column
    signature or one whose count does not match."""
    if len(inputs) != len(names) or any(i.get("type") != "tensor" for i in inputs):
        return None
    specs = []
    for name, entry in zip(names, inputs, strict=True):
        tensor = entry.get("tensor-spec") or {}
        dtype = np.dtype(tensor.get("dtype", "float32"))
        shape = [int(d) for d in tensor.get("shape", [-1])]
        specs.append(TensorSpec(name, v2_datatype(dtype), (-1, *shape[1:])))
    return tuple(specs)


def differences(inputs: list[dict[str, Any]], specs: tuple[TensorSpec, ...]) -> list[str]:
    """How the MLflow signature differs from the inputs modelport's artifact takes."""
    if all(i.get("type") == "tensor" for i in inputs):
        return _tensor_differences(inputs, specs)
    named = {str(i.get("name")): str(i.get("type")) for i in inputs}
    if len(specs) == 1 and specs[0].name not in named and len(specs[0].shape) == 2:
        width = specs[0].shape[1]  # fitted on an array: the columns are its features
        if width in (-1, len(named)):
            return []
        return [f"the signature has {len(named)} columns, the model takes {width} features"]
    found = []
    for spec in specs:
        if spec.name not in named:
            found.append(f"input {spec.name!r} is not a column of the signature")
        elif _COLUMN_KINDS.get(named[spec.name]) != _kind(spec):
            found.append(f"column {spec.name!r} is {named[spec.name]} there, {spec.datatype} here")
    found += [f"signature column {n!r} is not an input" for n in named if n not in _names(specs)]
    return found


def _tensor_differences(inputs: list[dict[str, Any]], specs: tuple[TensorSpec, ...]) -> list[str]:
    if len(inputs) != len(specs):
        return [f"the signature has {len(inputs)} tensors, the model takes {len(specs)}"]
    found = []
    for entry, spec in zip(inputs, specs, strict=True):
        tensor = entry.get("tensor-spec") or {}
        shape = [int(d) for d in tensor.get("shape", [])]
        if shape[1:] != [d for d in spec.shape[1:]] or len(shape) != len(spec.shape):
            found.append(f"input {spec.name!r} has shape {shape} there, {list(spec.shape)} here")
        elif v2_datatype(np.dtype(tensor.get("dtype", "float32"))) != spec.datatype:
            found.append(
                f"input {spec.name!r} is {tensor.get('dtype')} there, {spec.datatype} here"
            )
    return found


def _same_type(dtype: np.dtype[Any], datatype: str) -> bool:
    """Floats of any width count as one type: modelport's contracts take FP32 where MLflow
    records the float64 the model was fitted on, and exact float64 values are accepted."""
    if dtype.kind == "f":
        return datatype.startswith("FP")
    return v2_datatype(dtype) == datatype


def _kind(spec: TensorSpec) -> str:
    return "text" if spec.datatype == "BYTES" else "number"


def _names(specs: tuple[TensorSpec, ...]) -> set[str]:
    return {s.name for s in specs}


def read_example(model: MlflowModel) -> tuple[Any, str] | None:
    """The input example as a DataFrame, an array or arrays by name (what
    `samples.fit_sample` takes), and its name ("<dir>/input_example.json"); None when the
    model logged none, or one of a kind no sample can be made of."""
    info = model.config.get("saved_input_example_info")
    if not isinstance(info, dict) or info.get("type") not in ("dataframe", "ndarray"):
        return None
    path = inside(model.directory, info.get("artifact_path"), "the input example")
    if path.stat().st_size > MAX_EXAMPLE_BYTES:
        raise ModelLoadError(f"{path.name} is over {MAX_EXAMPLE_BYTES} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"the input example {path.name} is not JSON: {exc}") from exc
    if isinstance(data, dict) and "params" in data and "inputs" in data:
        data = data["inputs"]  # an example logged with inference params
    source = f"{model.directory.name}/{path.name}"
    if info["type"] == "dataframe":
        return _frame(data, path.name), source
    return _arrays(data, path.name), source


def _frame(data: Any, name: str) -> Any:
    import pandas as pd

    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ModelLoadError(f"the input example {name} is not a split-orient DataFrame")
    return pd.DataFrame(data["data"], columns=data.get("columns"))


def _arrays(data: Any, name: str) -> np.ndarray | dict[str, np.ndarray]:
    inputs = data.get("inputs") if isinstance(data, dict) else None
    if isinstance(inputs, dict):
        return {str(k): np.asarray(v) for k, v in inputs.items()}
    if isinstance(inputs, list):
        return np.asarray(inputs)  # one unnamed tensor
    raise ModelLoadError(f"the input example {name} has no 'inputs' (TF Serving format)")
