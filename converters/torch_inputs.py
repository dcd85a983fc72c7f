"""The tensor contract of PyTorch models, whatever the target format.

Inputs are the model's positional tensors, named `input` (one) or `input_0`, `input_1` ...;
outputs `output` or `output_0`, `output_1` ... in the order the model returns them (tuples,
lists and dict values flattened). An ExportedProgram records its inputs' dtypes and shapes;
a TorchScript module records none, so they come from a sample file (float64, numpy's
default, becomes float32, torch's). The batch (dim 0) is always free.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from converters.errors import SampleMismatch, UnsupportedConversion
from converters.load_torch import import_torch
from model_repo.formats.base import Tensors
from model_repo.signature import TensorSpec, v2_datatype

SAMPLE_HELP = (
    "pass a sample file (--sample): a .npy array for one input, or a .npz with arrays input_0, "
    "input_1 ... for several; its shapes (batch first) and dtypes become the artifact's inputs"
)


def input_names(count: int) -> list[str]:
    return ["input"] if count == 1 else [f"input_{i}" for i in range(count)]


def output_names(count: int) -> list[str]:
    return ["output"] if count == 1 else [f"output_{i}" for i in range(count)]


def user_inputs(program: Any, source: str) -> list[Any]:
    """The placeholder nodes of the program's user inputs (not its weights and buffers)."""
    example = getattr(program, "example_inputs", None)
    if example is not None and example[1]:
        raise UnsupportedConversion(
            f"{source} takes keyword inputs ({', '.join(example[1])}); export a model whose "
            "forward takes its tensors positionally"
        )
    wanted = set(program.graph_signature.user_inputs)
    return [n for n in program.graph.nodes if n.op == "placeholder" and n.name in wanted]


def program_specs(program: Any, source: str) -> tuple[TensorSpec, ...]:
    nodes = user_inputs(program, source)
    names = input_names(len(nodes))
    return tuple(_node_spec(node, name, source) for node, name in zip(nodes, names, strict=True))


def _node_spec(node: Any, name: str, source: str) -> TensorSpec:
    torch = import_torch()
    value = node.meta.get("val")
    if not isinstance(value, torch.Tensor) or value.dim() == 0:
        raise UnsupportedConversion(
            f"{source}: input {node.name!r} is not a batched tensor ({value!r}); every input "
            "must be a tensor whose first dimension is the batch"
        )
    datatype = _v2_of(value.dtype, f"{source}: input {node.name!r}")
    dims = tuple(d if isinstance(d, int) else -1 for d in value.shape)
    return TensorSpec(name, datatype, (-1, *dims[1:]))


def torchscript_arity(module: Any) -> int:
    """How many tensors forward() takes (arguments without a default, self excluded)."""
    arguments = module.forward.schema.arguments[1:]
    return sum(1 for a in arguments if a.default_value is None)


def specs_from_sample(path: Path, arity: int) -> tuple[TensorSpec, ...]:
    return specs_from_arrays(_read_arrays(path), arity, path.name)


def specs_from_arrays(
    arrays: dict[str, np.ndarray], arity: int, source: str
) -> tuple[TensorSpec, ...]:
    """The inputs of a TorchScript module taking `arity` tensors, from a sample's arrays."""
    names = input_names(arity)
    if len(arrays) == 1 and arity == 1:
        arrays = {names[0]: next(iter(arrays.values()))}
    missing = [n for n in names if n not in arrays]
    if missing:
        raise SampleMismatch(
            f"sample {source} lacks array(s) {', '.join(missing)}: the TorchScript model "
            f"takes {arity} input(s) ({', '.join(names)}); it has {', '.join(arrays) or 'none'}"
        )
    return tuple(_array_spec(name, np.asarray(arrays[name]), source) for name in names)


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise SampleMismatch(f"sample {path.name}: a TorchScript model needs {SAMPLE_HELP}")
    try:
        if suffix == ".npy":
            return {"input": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError) as exc:
        raise SampleMismatch(f"sample {path.name} is not a readable {suffix} file: {exc}") from exc


def _array_spec(name: str, array: np.ndarray, source: str) -> TensorSpec:
    if array.ndim == 0 or array.dtype.kind not in "biuf":
        raise SampleMismatch(
            f"sample {source}: array {name!r} must be numeric with the batch as first "
            f"dimension; it is {array.dtype} with shape {list(array.shape)}"
        )
    dtype = np.float32 if array.dtype == np.float64 else array.dtype
    return TensorSpec(name, v2_datatype(dtype), (-1, *array.shape[1:]))


def _v2_of(dtype: Any, what: str) -> str:
    torch = import_torch()
    try:
        return v2_datatype(torch.empty(0, dtype=dtype).numpy().dtype)
    except (TypeError, ValueError) as exc:  # bfloat16 and friends have no numpy dtype
        raise UnsupportedConversion(
            f"{what} has dtype {dtype}, which has no numpy or V2 datatype; make the model "
            "take float32 and cast inside it"
        ) from exc


def as_tensors(arrays: Tensors | Sequence[np.ndarray]) -> list[Any]:
    torch = import_torch()
    values = arrays.values() if isinstance(arrays, dict) else arrays
    return [torch.from_numpy(np.ascontiguousarray(a)) for a in values]


def flatten(result: Any, source: str) -> list[np.ndarray]:
    """The model's output tensors as numpy arrays, nested containers flattened in order."""
    torch = import_torch()
    if isinstance(result, torch.Tensor):
        return [result.detach().cpu().numpy()]
    if isinstance(result, dict):
        result = list(result.values())
    if isinstance(result, (list, tuple)):
        return [array for item in result for array in flatten(item, source)]
    raise UnsupportedConversion(
        f"{source} returns a {type(result).__name__}; a converted model must return tensors "
        "(or tuples, lists or dicts of tensors)"
    )
