"""PyTorch -> ONNX, through `torch.onnx.export`, with a dynamic batch dimension.

Inputs are the model's positional tensors, named `input` (one) or `input_0`, `input_1` ...
(several), with the dtype and shape of the example, dim 0 (the batch) free:
- a `.pt2` ExportedProgram records them in its graph. A program saved with a fixed batch is
  re-exported from `ep.module()` with `Dim("batch")` so the artifact takes any batch size;
  a model whose code fixes the batch (a reshape to a constant, say) is refused with a hint.
- a TorchScript `.pt` records no shapes, so it needs a sample file: a `.npy` array (one
  input) or a `.npz` with arrays `input_0`, `input_1` ... The sample's arrays fix the rank,
  the non-batch dims and the dtype (float64, numpy's default, becomes float32, torch's).
  In an MLflow model, the signature's tensor specs (else its input example) do that.

Exporters: the dynamo exporter for ExportedPrograms; the TorchScript-based exporter (with
`dynamic_axes`) for TorchScript modules, which the dynamo exporter cannot trace.

Outputs are named `output` (one tensor) or `output_0`, `output_1` ... in the order the
model returns them (tuples, lists and dict values flattened).

Tolerance: rtol 1e-3, atol 1e-4. Both sides compute in float32, but onnxruntime fuses and
reorders convolutions and matmuls (and uses its own GEMM kernels), so sums of many terms
differ in the last bits; 1e-3 relative covers deep stacks of such layers while still
catching a wrong op or a wrong weight, and atol 1e-4 covers outputs near zero.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from converters.base import Export, Sample, SourceModel
from converters.errors import ConversionError, SampleMismatch, UnsupportedConversion, first_line
from converters.load_torch import import_torch
from converters.synthetic import random_sample
from converters.torch_inputs import (
    SAMPLE_HELP,
    as_tensors,
    flatten,
    output_names,
    program_specs,
    specs_from_sample,
    torchscript_arity,
    user_inputs,
)
from model_repo.errors import DependencyMissing
from model_repo.formats import get_format
from model_repo.formats.base import Tensors
from model_repo.manifest import Tolerance
from model_repo.signature import TensorSpec

TOLERANCE = Tolerance(rtol=1e-3, atol=1e-4)
EXAMPLE_ROWS = 5  # batch of the example used to re-export; not 0 or 1, which torch specialises


class TorchOnnxConverter:
    name = "torch_onnx"
    framework = "torch"
    target = "onnx"

    def check_environment(self) -> None:
        import_torch()
        try:
            import onnxscript  # noqa: F401  (the dynamo exporter needs it)
        except ImportError as exc:
            raise DependencyMissing(
                "onnxscript is not installed; the PyTorch ONNX exporter needs it: "
                "pip install 'modelport[torch]'"
            ) from exc

    def input_specs(self, model: SourceModel) -> tuple[TensorSpec, ...]:
        if model.kind == "torchscript":
            if model.package is not None and model.package.input_specs:
                return model.package.input_specs  # an MLflow signature or input example
            raise SampleMismatch(
                f"{model.path.name} is TorchScript, which records no input shapes; {SAMPLE_HELP}"
            )
        return program_specs(model.obj, model.path.name)

    def input_specs_from_sample(
        self, model: SourceModel, sample_path: Path
    ) -> tuple[TensorSpec, ...]:
        if model.kind != "torchscript":
            return self.input_specs(model)
        return specs_from_sample(sample_path, torchscript_arity(model.obj))

    def synthesize(self, model: SourceModel, rows: int, seed: int) -> Sample:
        return random_sample(self.input_specs(model), rows, seed)

    def export(self, model: SourceModel, sample: Sample, dest: Path) -> Export:
        names = list(sample.tensors)
        args = as_tensors(_example_rows(sample.tensors))
        runnable, program, notes = _runnable(model, args)
        try:
            result = _call(runnable, args)
        except Exception as exc:  # whatever the model's own code raises
            raise ConversionError(
                f"{model.path.name} fails when run on {len(args[0])} sample rows, before "
                f"export: {type(exc).__name__}: {first_line(exc)}"
            ) from exc
        outputs = output_names(len(flatten(result, model.path.name)))
        artifact = dest / get_format("onnx").artifact_name
        exported = runnable if program is None else program
        _onnx_export(model.path.name, exported, args, names, outputs, artifact)
        signature = get_format("onnx").describe(artifact)
        return Export(signature, libraries=_libraries(), notes={**notes, "dynamic_batch": True})

    def reference(self, model: SourceModel, inputs: Tensors) -> Tensors:
        args = as_tensors(inputs)
        flat = flatten(_call(_runnable(model, args)[0], args), model.path.name)
        return dict(zip(output_names(len(flat)), flat, strict=True))

    def tolerance(self, model: SourceModel) -> Tolerance:
        return TOLERANCE


def _onnx_export(
    source: str, exported: Any, args: list[Any], names: list[str], outputs: list[str], to: Path
) -> None:
    """Write the ONNX graph of `exported` (a ScriptModule or an ExportedProgram) to `to`."""
    torch = import_torch()
    # TorchScript: only the TorchScript-based exporter reads it; programs: the dynamo one.
    scripted = not isinstance(exported, torch.export.ExportedProgram)
    exporter = "TorchScript-based" if scripted else "dynamo"
    options: dict[str, Any] = (
        {"dynamo": False, "dynamic_axes": {n: {0: "batch"} for n in [*names, *outputs]}}
        if scripted
        else {"dynamo": True, "verbose": False}
    )
    try:
        with _quiet_exporter():
            torch.onnx.export(
                exported, tuple(args), str(to), input_names=names, output_names=outputs, **options
            )
    except Exception as exc:  # OnnxExporterError, UnsupportedOperatorError, RuntimeError ...
        raise ConversionError(
            f"the {exporter} ONNX exporter cannot convert {source}: {_root_cause(exc)}. "
            "Rewrite the part of the model it cannot translate (an operator without an ONNX "
            "equivalent, say); torch.onnx.export(..., report=True) shows where it stops"
        ) from exc


def _root_cause(exc: BaseException) -> str:
    """The innermost error of the chain, which the dynamo exporter wraps twice in advice."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return f"{type(exc).__name__}: {first_line(exc)}"


def _runnable(model: SourceModel, args: list[Any]) -> tuple[Any, Any, dict[str, Any]]:
    """What to run: the module, the (batch-free) ExportedProgram or None, export notes."""
    if model.kind == "torchscript":
        return model.obj, None, {"exporter": "torchscript"}
    program, re_exported = _dynamic_program(model, args)
    return program.module(), program, {"exporter": "dynamo", "re_exported": re_exported}


def _call(module: Any, args: list[Any]) -> Any:
    torch = import_torch()
    with torch.no_grad():
        return module(*args)


def _batch_is_dynamic(program: Any, source: str) -> bool:
    return all(not isinstance(n.meta["val"].shape[0], int) for n in user_inputs(program, source))


def _dynamic_program(model: SourceModel, args: list[Any]) -> tuple[Any, bool]:
    """The program with a free batch dim, and whether it had to be re-exported for it."""
    program = model.obj
    if _batch_is_dynamic(program, model.path.name):
        return program, False
    torch = import_torch()
    batch = torch.export.Dim("batch")
    shapes = tuple({0: batch} for _ in args)
    try:
        return torch.export.export(
            program.module(check_guards=False), tuple(args), dynamic_shapes=shapes
        ), True
    except Exception as exc:  # torch raises UserError, ConstraintViolationError ...
        raise UnsupportedConversion(
            f"{model.path.name} was exported with a fixed batch size and its code does not "
            f"allow another one: {first_line(exc)}. Make the batch free in the model (no "
            "reshape to a constant batch) and export it with dynamic_shapes="
            "{'x': {0: torch.export.Dim('batch')}}"
        ) from exc


def _example_rows(tensors: Tensors) -> list[np.ndarray]:
    """A few sample rows to trace with: more than 1, which torch would specialise on."""
    arrays = [a[:EXAMPLE_ROWS] for a in tensors.values()]
    return [np.concatenate([a, a]) if a.shape[0] < 2 else a for a in arrays]


def _libraries() -> dict[str, str]:
    found = {}
    for package in ("onnx", "onnxscript"):
        with contextlib.suppress(PackageNotFoundError):
            found[package] = version(package)
    return found


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence what the exporters emit about their own internals, not about the model."""
    registration = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registration.level
    registration.setLevel(logging.ERROR)  # "torchvision is not installed": not needed here
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)", FutureWarning)
            warnings.filterwarnings(
                "ignore", r".*legacy TorchScript-based ONNX", DeprecationWarning
            )
            # ScriptModules have no Python signature; the exporter then takes args as given.
            warnings.filterwarnings("ignore", r"no signature found for", UserWarning)
            yield
    finally:
        registration.setLevel(level)


CONVERTER = TorchOnnxConverter()
