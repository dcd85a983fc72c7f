"""Errors raised while converting a model.

ModelportError                      (model_repo.errors)
├── DependencyMissing               a framework, Java or a library version is unusable
└── ConversionError
    ├── ModelLoadError              the file is not a model, is corrupt, or is untrusted
    ├── UnsupportedConversion       no converter for the pair, or for one step of a model
    ├── SampleMismatch              the sample's columns or shape do not fit the model
    └── ParityFailure               the artifact does not reproduce the source model
"""

from __future__ import annotations

from model_repo.errors import ModelportError
from model_repo.manifest import ParityReport


class ConversionError(ModelportError):
    """A model could not be turned into a verified artifact."""


class ModelLoadError(ConversionError):
    """The model file is not a model, is corrupt, or holds types nobody trusted."""


class UnsupportedConversion(ConversionError):
    """No converter exists for the framework/format pair, or for a step of the model."""


class SampleMismatch(ConversionError):
    """The sample's columns, shape or types do not match what the model takes."""


class ParityFailure(ConversionError):
    """The artifact's outputs differ from the source model's beyond the tolerance."""

    def __init__(self, message: str, report: ParityReport) -> None:
        super().__init__(message)
        self.report = report


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its class name when it has none.

    Framework errors (torch, Keras, TensorFlow) append pages of graph dumps and advice; the
    first line holds the reason, and the full text stays on the chained exception.
    """
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
