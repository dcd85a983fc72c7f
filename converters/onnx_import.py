"""Make an uploaded ONNX artifact servable by onnxruntime, or say exactly why it is not.

An artifact that onnxruntime opens is stored as it came. One it refuses may be rewritten,
in staging, in two ways (each recorded in the manifest):
- a StringNormalizer whose English locale this machine lacks is pointed at C.UTF-8
  (`onnx_locale`);
- a model whose default-domain opset is older than `onnx_upgrade.TARGET_OPSET` is upgraded
  with `onnx.version_converter` (`onnx_upgrade`).

A rewritten model is published only after a check: the ORIGINAL runs in onnx's reference
evaluator (`onnx.reference.ReferenceEvaluator`, which implements every opset) and the
rewritten one in onnxruntime, through `model_repo.formats` (the code that serves it), on a
sample synthesised from the graph's inputs; the outputs must agree within the tolerance
below. Its report becomes the manifest's parity report. The rewrite must also keep the
signature clients see. Failures: `ParityFailure` (answers differ), `ConversionError` (the
converter or onnxruntime fails on the rewrite), or onnxruntime's own `ArtifactError` when
no rewrite applies; all 422 over HTTP, and nothing is published.

Tolerance: rtol 1e-3, atol 1e-4 for float outputs, as for PyTorch -> ONNX: both sides are
float32 kernels summing in different orders; a semantic change of an upgraded op (a
broadcast, a padding rule) is off by orders of magnitude more. Other outputs must be equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from converters.errors import ConversionError, ParityFailure, first_line
from converters.onnx_locale import point_at_available_locales
from converters.onnx_sample import reference_copy, synthesized_feed
from converters.onnx_upgrade import TARGET_OPSET, upgradable, upgrade
from converters.parity import compare
from model_repo.errors import ArtifactError
from model_repo.formats.onnx import FORMAT
from model_repo.manifest import ParityReport, Tolerance
from model_repo.signature import Signature

FLOAT_TOLERANCE = (1e-3, 1e-4)  # rtol, atol
REFERENCE = "onnx.reference.ReferenceEvaluator"


@dataclass(frozen=True)
class Rewrite:
    """What was done to an uploaded ONNX model so onnxruntime serves it."""

    converter: str  # for the provenance: "onnx.version_converter", "onnx_locale_fallback"
    parity: ParityReport
    notes: dict[str, Any] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)


def make_servable(path: Path, signature: Signature, source: str) -> Rewrite | None:
    """Open the ONNX model at `path` with onnxruntime, rewriting it in place when that is
    what makes it open; None when it opened as it is."""
    import onnx

    original = _rewritable(path)
    if original is None:
        refusal = _refusal(path, signature)
        if refusal is not None:
            raise refusal
        return None
    working = onnx.ModelProto()
    working.CopyFrom(original)
    notes: dict[str, Any] = {}
    converters: list[str] = []
    locale = point_at_available_locales(working, source)
    if locale is not None:
        notes["string_normalizer_locale"] = locale
        converters.append("onnx_locale_fallback")
        onnx.save(working, str(path))
    refusal = _refusal(path, signature)
    if refusal is None and not notes:
        return None
    if refusal is not None:
        _upgrade(working, path, signature, source, refusal, notes)
        converters.append("onnx.version_converter")
    report = check(original, path, signature, source, describe(notes))
    return Rewrite("+".join(converters), report, notes, _libraries())


def _rewritable(path: Path) -> Any:
    """The model at `path`, or None when its weights live in external files (which an
    upload does not carry, and a rewrite would have to move): it is opened as it is."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    model = onnx.load(str(path), load_external_data=False)
    if any(uses_external_data(tensor) for tensor in model.graph.initializer):
        return None
    return model


def _upgrade(
    model: Any,
    path: Path,
    signature: Signature,
    source: str,
    refusal: ArtifactError,
    notes: dict[str, Any],
) -> None:
    """Upgrade `model`'s opset into `path` (its notes into `notes`), or raise why not."""
    import onnx

    if not upgradable(model):
        raise refusal
    upgraded, notes["opset_upgrade"] = upgrade(model, source, str(refusal))
    onnx.save(upgraded, str(path))
    _require_opens(path, signature, source, refusal)


def describe(notes: dict[str, Any]) -> str:
    """The rewrites `notes` records, in words: "upgraded from opset 6 to 21 (AveragePool-1
    -> AveragePool-19)", "its StringNormalizer locale en_US.UTF-8 replaced by C.UTF-8"."""
    parts = []
    upgrade = notes.get("opset_upgrade")
    if upgrade:
        ops = ", ".join(upgrade["changed_ops"]) or "no op changed its schema"
        parts.append(
            f"upgraded from opset {upgrade['from_opset']} to {upgrade['to_opset']} ({ops})"
        )
    locale = notes.get("string_normalizer_locale")
    if locale:
        parts.append(
            f"its StringNormalizer locale {', '.join(locale['from'])} replaced by {locale['to']}"
        )
    return " and ".join(parts)


def _refusal(path: Path, signature: Signature) -> ArtifactError | None:
    """onnxruntime's refusal of the model at `path`, or None when it opens. The staging
    directory is cut out of the message: it means nothing to the uploader."""
    try:
        FORMAT.open(path, signature).close()
    except ArtifactError as exc:
        cleaned = ArtifactError(str(exc).replace(f"{path.parent}/", ""))
        cleaned.__cause__ = exc.__cause__
        return cleaned
    return None


def _require_opens(path: Path, signature: Signature, source: str, refusal: ArtifactError) -> None:
    after = _refusal(path, signature)
    if after is not None:
        same = first_line(after) == first_line(refusal)
        raise ConversionError(
            f"{refusal}. Upgrading {source} to opset {TARGET_OPSET} with "
            "onnx.version_converter does not help: onnxruntime refuses the upgrade "
            + ("for the same reason" if same else f"too ({first_line(after)})")
            + "; nothing was published"
        ) from after
    rewritten = FORMAT.describe(path)
    if rewritten != signature:
        raise ConversionError(
            f"upgrading {source} to opset {TARGET_OPSET} changed its inputs or outputs "
            f"({signature.to_dict()} became {rewritten.to_dict()}); nothing was published"
        )


def check(
    original: Any, rewritten: Path, signature: Signature, source: str, what: str
) -> ParityReport:
    """Original (reference evaluator) against the rewrite (onnxruntime, `what` says how it
    was made) on a synthesised sample; the report, or ParityFailure."""
    feed, sample_source = synthesized_feed(signature, original)
    expected = _run_reference(original, feed, source, sample_source)
    predictor = FORMAT.open(rewritten, signature)
    try:
        got = predictor.predict(feed)
    except Exception as exc:  # onnxruntime's own errors: the rewrite fails where it ran
        raise ConversionError(
            f"{source}, {what}, fails in onnxruntime on the check's sample "
            f"({sample_source}): {type(exc).__name__}: {first_line(exc)}; the rewrite "
            "changed what the model does, so nothing was published"
        ) from exc
    finally:
        predictor.close()
    report, problems = compare(expected, got, _tolerance(signature), sample_source)
    if not report.passed:
        raise ParityFailure(
            f"{source}, {what}, does not answer like the original (run by {REFERENCE}) "
            f"on {report.sample_size} rows ({sample_source}); nothing was published. "
            "Re-export the model with a current opset instead.\n" + "\n".join(problems),
            report,
        )
    return report


def _run_reference(original: Any, feed: dict[str, Any], source: str, how: str) -> Any:
    from onnx.reference import ReferenceEvaluator

    try:
        evaluator = ReferenceEvaluator(reference_copy(original))
        values = evaluator.run(None, feed)
    except Exception as exc:  # the evaluator raises whatever its numpy kernels raise
        raise ConversionError(
            f"{source} could be rewritten for onnxruntime, but the original cannot be run by "
            f"{REFERENCE} to check the rewrite ({how}): {type(exc).__name__}: "
            f"{first_line(exc)}; nothing was published"
        ) from exc
    return dict(zip(evaluator.output_names, values, strict=True))


def _tolerance(signature: Signature) -> Tolerance:
    exact = tuple(o.name for o in signature.outputs if o.datatype not in ("FP16", "FP32", "FP64"))
    rtol, atol = FLOAT_TOLERANCE
    return Tolerance(rtol=rtol, atol=atol, exact=exact)


def _libraries() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}
