"""The pieces every converter shares: the source model, the sample, the export result."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from model_repo.formats.base import Tensors
from model_repo.manifest import Tolerance
from model_repo.signature import Signature, TensorSpec


@dataclass(frozen=True)
class Package:
    """The directory a model came packaged in (an MLflow model directory), and what its
    metadata says that the model file itself does not."""

    kind: str  # "mlflow": the key of its entry in the manifest's notes
    path: Path  # the directory; the source model's `path` is the model file inside it
    notes: dict[str, Any] = field(default_factory=dict)  # that entry
    input_specs: tuple[TensorSpec, ...] | None = None  # from its signature, for models that
    # record none (TorchScript)
    example: Any = None  # rows its author logged (a DataFrame, an array, arrays by name)
    example_name: str = ""  # where the example came from: "<dir>/input_example.json"
    signature: list[dict[str, Any]] | None = None  # the inputs its metadata declares


@dataclass(frozen=True)
class SourceModel:
    """A trained model loaded from a file, with what we know about where it came from."""

    framework: str  # "sklearn" | "torch" | "tensorflow" | "xgboost" | "lightgbm" (native files)
    obj: Any
    path: Path
    kind: str  # how it was stored: "skops", "joblib", "exported_program", "torchscript", ...
    libraries: dict[str, str] = field(default_factory=dict)  # package -> version
    package: Package | None = None  # the MLflow directory `path` was read from, if any
    notes: dict[str, Any] = field(default_factory=dict)  # for the manifest's notes

    @property
    def origin(self) -> Path:
        """What the user handed over: the package directory, else the model file."""
        return self.package.path if self.package is not None else self.path


@dataclass(frozen=True)
class Sample:
    """Inputs for the parity check, keyed and typed like the artifact's signature inputs."""

    tensors: Tensors
    source: str  # "file:<name>" or "synthesized:<how>"

    @property
    def rows(self) -> int:
        return int(next(iter(self.tensors.values())).shape[0])


@dataclass(frozen=True)
class Export:
    """What a converter wrote and what the manifest should say about it."""

    signature: Signature
    labels: tuple[Any, ...] | None = None
    libraries: dict[str, str] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)


class Converter(Protocol):
    """Turns one framework's models into one artifact format.

    The conversion pipeline calls, in order: `check_environment`, `input_specs`,
    `synthesize` (when no sample file was given), `export`, then `reference` and the
    artifact's own predictor on the same sample for the parity check.
    """

    name: str  # "sklearn_onnx"
    framework: str  # "sklearn"
    target: str  # artifact format name, "onnx"

    def check_environment(self) -> None:
        """Raise DependencyMissing when a library or runtime this path needs is unusable."""
        ...

    def input_specs(self, model: SourceModel) -> tuple[TensorSpec, ...]:
        """The artifact's inputs, known before export (names, V2 datatypes, shapes)."""
        ...

    def synthesize(self, model: SourceModel, rows: int, seed: int) -> Sample:
        """A sample built from the model's own fitted metadata, for when none was given."""
        ...

    def export(self, model: SourceModel, sample: Sample, dest: Path) -> Export:
        """Write the artifact into `dest` (a directory) and describe it."""
        ...

    def reference(self, model: SourceModel, inputs: Tensors) -> Tensors:
        """The source model's outputs on `inputs`, named and typed like the artifact's."""
        ...

    def tolerance(self, model: SourceModel) -> Tolerance:
        """How close the artifact must be to the source model on this kind of model."""
        ...


@runtime_checkable
class SampleShapedConverter(Protocol):
    """A converter whose models may not record their input shapes (TorchScript).

    When a sample file is given, the pipeline asks it for the input specs with the file at
    hand instead of calling `input_specs`; it returns the model's own specs when it has
    them, else specs read from the sample (batch dim -1).
    """

    def input_specs_from_sample(
        self, model: SourceModel, sample_path: Path
    ) -> tuple[TensorSpec, ...]: ...


@runtime_checkable
class TextInputConverter(Protocol):
    """A converter whose models read documents from some BYTES inputs (text vectorizers):
    in a CSV sample an empty cell of such an input is an empty document, not a missing
    value (which a categorical input refuses)."""

    def text_inputs(self, model: SourceModel) -> frozenset[str]: ...


def modelport_version() -> str:
    """The installed modelport's version, recorded in every manifest's provenance."""
    try:
        return version("modelport")
    except PackageNotFoundError:  # running from a source tree
        return "0+unknown"
