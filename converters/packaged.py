"""What the conversion pipeline does with a model that came in a package (an MLflow model
directory): its input example joins the parity sample, and its signature is compared with
the artifact's inputs.

Parity sample, when no `--sample` is given: the example's rows (real inputs the model's
author logged, fitted to the inputs like a sample file, so a value that does not fit is an
error naming it) followed by the synthesized rows modelport would use anyway; only the
example when the converter cannot synthesize. A few logged rows alone would check little; the
synthesized rows alone would miss the author's real values.

Signature: modelport's inputs come from the model (its fitted column names, Keras input
names ...). Where the MLflow signature disagrees (another column name, text where the model
takes numbers, another width), the manifest's notes say how, and the conversion goes on:
the model is what will run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from converters.base import Converter, Sample, SourceModel
from converters.errors import SampleMismatch, UnsupportedConversion
from converters.mlflow_schema import differences
from converters.samples import fit_sample
from model_repo.signature import TensorSpec


def has_example(source: SourceModel) -> bool:
    return source.package is not None and source.package.example is not None


def example_sample(
    converter: Converter, source: SourceModel, specs: tuple[TensorSpec, ...], rows: int
) -> Sample:
    """The package's example rows, then `rows` synthesized ones when the converter can."""
    package = source.package
    assert package is not None and package.example is not None
    try:
        example = fit_sample(package.example, specs, package.example_name)
    except SampleMismatch as exc:
        raise SampleMismatch(
            f"{exc}. An MLflow model's input example is part of the parity sample when no "
            "sample is given; give one (--sample, or the upload's sample field) to check the "
            "model on other rows"
        ) from exc
    try:
        synthesized = converter.synthesize(source, rows, seed=0)
    except (SampleMismatch, UnsupportedConversion):  # nothing to synthesize from
        return example
    tensors = {
        name: np.concatenate([values, synthesized.tensors[name]])
        for name, values in example.tensors.items()
    }
    return Sample(tensors, f"{example.source} ({example.rows} rows) + {synthesized.source}")


def package_notes(source: SourceModel, specs: tuple[TensorSpec, ...]) -> dict[str, Any]:
    """The package's notes for the manifest, with how its signature compares."""
    package = source.package
    if package is None:
        return {}
    entry = dict(package.notes)
    if package.signature is not None:
        found = differences(package.signature, specs)
        entry["signature"] = found or "matches the artifact's inputs"
    return {package.kind: entry}
