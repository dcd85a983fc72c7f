"""Upgrade an ONNX model's opset with `onnx.version_converter`, for runtimes that dropped it.

onnxruntime implements the default domain from opset 7 on; a model stamped with an older
opset (the ONNX project's own backend test models are opset 6: AveragePool-1,
BatchNormalization-6, Gemm-6 ...) is refused with "Could not find an implementation". The
version converter rewrites each node to its schema at the target opset (adding the
attributes or inputs the newer schema takes), which onnxruntime then loads. The result is
not trusted on its own: `converters.onnx_import` runs the original with onnx's reference
evaluator and the upgrade with onnxruntime before anything is published.

Target: opset 21 (onnx 1.16), which onnxruntime has implemented since 1.18, so an upgraded
version keeps loading with every onnxruntime modelport allows (>= 1.20), not just the pinned
one; a newer opset would buy an old model nothing.
"""

from __future__ import annotations

from typing import Any

from converters.errors import ConversionError, first_line

TARGET_OPSET = 21
DEFAULT_DOMAINS = ("", "ai.onnx")


def default_opset(model: Any) -> int | None:
    """The model's opset of the default (ai.onnx) domain; None when it imports none."""
    versions = [o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS]
    return max(versions) if versions else None


def upgradable(model: Any) -> bool:
    opset = default_opset(model)
    return opset is not None and opset < TARGET_OPSET


def upgrade(model: Any, source: str, refusal: str) -> tuple[Any, dict[str, Any]]:
    """`model` converted to TARGET_OPSET, and what changed (for the manifest).

    `refusal` is onnxruntime's reason for refusing the original, repeated in the error
    when the converter fails too, so the user sees both.
    """
    from onnx import helper, version_converter

    opset = default_opset(model)
    try:
        upgraded = version_converter.convert_version(model, TARGET_OPSET)
    except Exception as exc:  # the converter's C++ assertions arrive as RuntimeError ...
        raise ConversionError(
            f"{refusal}. modelport tried to upgrade {source} from opset {opset} to "
            f"{TARGET_OPSET} with onnx.version_converter, which failed: "
            f"{type(exc).__name__}: {first_line(exc)}; nothing was published. Re-export the "
            f"model with opset {TARGET_OPSET} (or any from 7 on)"
        ) from exc
    # The converter keeps the old IR version, which predates the new opset; onnx's checker
    # and stricter runtimes want at least the IR version that introduced it.
    upgraded.ir_version = max(
        upgraded.ir_version, helper.find_min_ir_version_for(list(upgraded.opset_import))
    )
    notes = {
        "from_opset": opset,
        "to_opset": TARGET_OPSET,
        "converter": "onnx.version_converter",
        "changed_ops": op_changes(model, opset or 1, TARGET_OPSET),
    }
    return upgraded, notes


def op_changes(model: Any, from_opset: int, to_opset: int) -> list[str]:
    """Each default-domain op whose schema differs between the two opsets, as
    "AveragePool-1 -> AveragePool-19" (the opsets where the two schemas were introduced)."""
    from onnx import defs

    changes = []
    for op_type in sorted({n.op_type for n in model.graph.node if n.domain in DEFAULT_DOMAINS}):
        try:
            before = defs.get_schema(op_type, from_opset).since_version
            after = defs.get_schema(op_type, to_opset).since_version
        except defs.SchemaError:  # an op onnx does not know: the converter will say so
            continue
        if before != after:
            changes.append(f"{op_type}-{before} -> {op_type}-{after}")
    return changes
