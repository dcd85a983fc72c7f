"""Load PyTorch models: `.pt2` ExportedPrograms (torch.export) or TorchScript `.pt`/`.pth`.

A `.pt`/`.pth` written by `torch.save` (a state_dict or a pickled nn.Module) is refused:
it needs the model's Python class to rebuild, and unpickling it runs arbitrary code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from converters.base import SourceModel
from converters.errors import ModelLoadError, first_line
from model_repo.errors import DependencyMissing

EXPORTED_SUFFIXES = frozenset({".pt2"})
_RESAVE_HINT = (
    "save the model with torch.export.save(torch.export.export(model, example_inputs), "
    "'model.pt2'), or as TorchScript with torch.jit.script(model).save('model.pt')"
)


def import_torch() -> Any:
    """torch, or DependencyMissing naming the extra that installs it."""
    try:
        import torch
    except ImportError as exc:
        raise DependencyMissing(
            "PyTorch is not installed; install it with: pip install 'modelport[torch]'"
        ) from exc
    return torch


def load(path: Path, exported: bool | None = None) -> SourceModel:
    """The module in `path`: an ExportedProgram when `exported` (by default: a `.pt2`
    suffix; an MLflow model says so in MLmodel), else TorchScript."""
    torch = import_torch()
    if exported is None:
        exported = path.suffix.lower() in EXPORTED_SUFFIXES
    if exported:
        obj, kind = _load_exported(torch, path), "exported_program"
    else:
        obj, kind = _load_torchscript(torch, path), "torchscript"
    return SourceModel("torch", obj, path, kind, libraries={"torch": torch.__version__})


def _load_exported(torch: Any, path: Path) -> object:
    try:
        program = torch.export.load(str(path))
    except Exception as exc:  # zipfile, pickle, serde and version errors alike
        raise ModelLoadError(
            f"{path.name} is not a readable torch.export program (.pt2): "
            f"{type(exc).__name__}: {exc}. Re-export it with this torch version: {_RESAVE_HINT}"
        ) from exc
    if not isinstance(program, torch.export.ExportedProgram):
        raise ModelLoadError(f"{path.name} does not hold an ExportedProgram; {_RESAVE_HINT}")
    return program


def _load_torchscript(torch: Any, path: Path) -> object:
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # RuntimeError for anything that is not a TorchScript archive
        raise ModelLoadError(
            f"{path.name} is not a TorchScript module ({type(exc).__name__}: "
            f"{first_line(exc)}). A file written by torch.save (a state_dict or a pickled "
            f"module) cannot be converted without its Python code; {_RESAVE_HINT}"
        ) from exc
