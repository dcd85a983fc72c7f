"""Convert a model file into a verified artifact and publish it as a new version.

The steps: load the source model, pick the converter, get a sample (from a file, or
synthesised from the model, with an MLflow model's input example first), export into a
staging dir, open the staged artifact through `model_repo.formats` (the code that will
serve it), compare with the source model, publish.
Nothing reaches the repository unless every step succeeds (or parity fails under --force,
and then the manifest says so).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from converters.base import (
    Converter,
    Export,
    Sample,
    SampleShapedConverter,
    SourceModel,
    TextInputConverter,
    modelport_version,
)
from converters.errors import ConversionError, ParityFailure, first_line
from converters.loading import load_source
from converters.packaged import example_sample, has_example, package_notes
from converters.parity import compare
from converters.registry import get_converter
from converters.samples import load_sample
from model_repo import check_model_name
from model_repo.aliases import AliasTarget, check_alias_name
from model_repo.errors import ArtifactError, InvalidArgument, ModelportError
from model_repo.formats import get_format
from model_repo.formats.base import Tensors
from model_repo.manifest import Manifest, ParityReport, Provenance
from model_repo.repository import Repository, Staging, source_digest
from model_repo.signature import TensorSpec

Progress = Callable[[str], None]
DEFAULT_SAMPLE_ROWS = 256


def _quiet(_: str) -> None:
    pass


def convert_file(
    repo: Repository,
    model_path: Path,
    name: str,
    target: str,
    *,
    sample_path: Path | None = None,
    alias: str | None = None,
    force: bool = False,
    allow_pickle: bool = True,
    progress: Progress = _quiet,
    version: int | None = None,
) -> Manifest:
    """Convert the model at `model_path` to `target` and publish it (as `version` if given,
    else as the next number); the new manifest."""
    # Everything the caller typed is checked before any model is loaded: a bad alias found
    # only after publishing would leave a version the user was told was not made.
    check_model_name(name)
    if alias:
        check_alias_name(alias)
    get_format(target)
    progress(f"loading {model_path.name}")
    source = load_source(model_path, allow_pickle=allow_pickle)
    converter = get_converter(source.framework, target)
    converter.check_environment()
    specs = _input_specs(converter, source, sample_path)
    sample = _sample(converter, source, specs, sample_path)
    with repo.stage(name, version) as staging:
        progress(f"converting {source.framework} -> {target}")
        export = converter.export(source, sample, staging.path)
        progress(f"checking parity on {sample.rows} rows ({sample.source})")
        report = check_parity(converter, source, sample, export, staging, force)
        progress("publishing")
        draft = _draft(name, converter, source, export, report, package_notes(source, specs))
        manifest = staging.publish(draft)
    if alias:
        repo.set_alias(name, alias, AliasTarget(version=manifest.version))
    return manifest


def _input_specs(
    converter: Converter, source: SourceModel, sample_path: Path | None
) -> tuple[TensorSpec, ...]:
    """The artifact's inputs; TorchScript models, which record none, take them from the
    sample file."""
    if sample_path is not None and isinstance(converter, SampleShapedConverter):
        return converter.input_specs_from_sample(source, sample_path)
    return converter.input_specs(source)


def _sample(
    converter: Converter, source: SourceModel, specs: tuple[TensorSpec, ...], path: Path | None
) -> Sample:
    """The parity sample: the --sample file; else an MLflow model's input example with
    synthesized rows (`packaged`); else the synthesized rows alone."""
    if path is not None:
        return load_sample(path, specs, _text_inputs(converter, source))
    if has_example(source):
        return example_sample(converter, source, specs, DEFAULT_SAMPLE_ROWS)
    return converter.synthesize(source, DEFAULT_SAMPLE_ROWS, seed=0)


def _text_inputs(converter: Converter, source: SourceModel) -> frozenset[str]:
    if isinstance(converter, TextInputConverter):
        return converter.text_inputs(source)
    return frozenset()


def check_parity(
    converter: Converter,
    source: SourceModel,
    sample: Sample,
    export: Export,
    staging: Staging,
    force: bool,
) -> ParityReport:
    """Run the staged artifact and the source model on the sample; raise on failure."""
    fmt = get_format(converter.target)
    artifact = staging.path / fmt.artifact_name
    try:
        predictor = fmt.open(artifact, export.signature)
    except ArtifactError as exc:
        # The converter wrote something its own runtime refuses: a converter bug, not the
        # user's file, so it is reported as a failed conversion, without the staging path.
        reason = str(exc).replace(str(staging.path) + "/", "")
        raise ConversionError(
            f"the converted {converter.target} artifact of {source.path.name} cannot be "
            f"opened by its runtime ({reason}); nothing was published. This is a converter "
            "limitation for this model: please report it with the model's type"
        ) from exc
    try:
        candidate = _on_sample(
            f"the converted {converter.target} artifact", sample, predictor.predict
        )
    finally:
        predictor.close()
    reference = _on_sample(
        f"the source {source.framework} model {source.path.name}",
        sample,
        lambda tensors: converter.reference(source, tensors),
    )
    report, problems = compare(
        reference,
        candidate,
        converter.tolerance(source),
        sample.source,
        forced=force,
        labels=export.labels,
    )
    if not report.passed and not force:
        tol = report.tolerance
        raise ParityFailure(
            f"parity check failed: the {converter.target} artifact does not reproduce the "
            f"{source.framework} model within rtol={tol.rtol:g}, atol={tol.atol:g} "
            f"(mismatch budget {tol.mismatch_budget:.2%}) on {report.sample_size} rows "
            f"({report.sample_source}). Nothing was published; --force publishes anyway and "
            "records the failure in the manifest.\n" + "\n".join(problems),
            report,
        )
    return report


def _on_sample(what: str, sample: Sample, run: Callable[[Tensors], Tensors]) -> Tensors:
    """`run` on the parity sample, its failures translated into a ConversionError.

    InvalidArgument (a predictor refusing a value, e.g. JPMML on an unknown category) is
    translated too: here it is not the caller's argument that is wrong, and reported as is
    it would read as a usage error. Other modelport errors (DependencyMissing ...) pass.
    """
    try:
        return run(sample.tensors)
    except InvalidArgument as exc:
        raise _sample_failure(what, sample, str(exc)) from exc
    except ModelportError:
        raise
    except Exception as exc:  # the runtime's or the framework's own error types
        raise _sample_failure(what, sample, f"{type(exc).__name__}: {first_line(exc)}") from exc


def _sample_failure(what: str, sample: Sample, reason: str) -> ConversionError:
    if sample.source.startswith("file:"):
        hint = (
            "check that the sample holds values the model accepts (no missing values it "
            "cannot take, no categories it never saw)"
        )
    else:
        hint = "the sample was synthesized; pass one of real inputs with --sample"
    return ConversionError(
        f"{what} fails on the parity sample ({sample.source}): {reason}. Nothing was "
        f"published; {hint}"
    )


def _draft(
    name: str,
    converter: Converter,
    source: SourceModel,
    export: Export,
    report: ParityReport,
    source_notes: dict[str, Any],
) -> Manifest:
    libraries = {**source.libraries, **export.libraries, "modelport": modelport_version()}
    return Manifest(
        name=name,
        format=converter.target,
        artifact=get_format(converter.target).artifact_name,
        signature=export.signature,
        labels=export.labels,
        provenance=Provenance(
            framework=source.framework,
            source_file=source.origin.name,
            source_sha256=source_digest(source.origin),
            converter=converter.name,
            libraries=libraries,
        ),
        parity=report,
        notes={**source.notes, **source_notes, **export.notes},
    )
