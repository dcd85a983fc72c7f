"""The parity check: source model and artifact on the same sample, compared per output."""

from __future__ import annotations

import math

import numpy as np

from converters.base import Tensors
from model_repo.manifest import OutputParity, ParityReport, Tolerance

_WORST_SHOWN = 3


def compare(
    reference: Tensors,
    candidate: Tensors,
    tolerance: Tolerance,
    sample_source: str,
    forced: bool = False,
) -> tuple[ParityReport, list[str]]:
    """Compare every reference output with the artifact's; the report and, for each
    failing output, lines describing its worst elements."""
    outputs: dict[str, OutputParity] = {}
    problems: list[str] = []
    passed = True
    rows = 0
    for name, expected in reference.items():
        rows = max(rows, int(expected.shape[0]) if expected.ndim else 1)
        got = candidate.get(name)
        if got is None:
            passed = False
            problems.append(f"output {name!r} is missing from the artifact's outputs")
            continue
        if got.shape != expected.shape:
            passed = False
            problems.append(
                f"output {name!r} has shape {list(got.shape)}, the source model gives "
                f"{list(expected.shape)}"
            )
            continue
        exact = name in tolerance.exact or not _numeric(expected) or not _numeric(got)
        parity, bad = _exact(expected, got) if exact else _close(expected, got, tolerance)
        outputs[name] = parity
        allowed = math.floor(tolerance.mismatch_budget * parity.elements)
        if parity.mismatches > allowed:
            passed = False
            problems.append(_describe(name, expected, got, bad, parity, allowed))
    report = ParityReport(
        passed=passed,
        forced=forced and not passed,
        tolerance=tolerance,
        sample_source=sample_source,
        sample_size=rows,
        outputs=outputs,
    )
    return report, problems


def _numeric(array: np.ndarray) -> bool:
    return array.dtype.kind in "biuf"


def _exact(expected: np.ndarray, got: np.ndarray) -> tuple[OutputParity, np.ndarray]:
    bad = _as_text(expected) != _as_text(got)
    return OutputParity(0.0, 0.0, int(bad.sum()), int(bad.size)), bad


def _as_text(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind in "OSU":
        text: np.ndarray = np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else str(v))(
            array
        )
        return text
    return array


def _close(
    expected: np.ndarray, got: np.ndarray, tol: Tolerance
) -> tuple[OutputParity, np.ndarray]:
    want = expected.astype(np.float64)
    have = got.astype(np.float64)
    both_nan = np.isnan(want) & np.isnan(have)
    diff = np.where(both_nan, 0.0, np.abs(want - have))
    diff = np.where(np.isnan(diff), np.inf, diff)
    bad = diff > tol.atol + tol.rtol * np.abs(want)
    scale = np.maximum(np.abs(want), np.finfo(np.float64).tiny)
    rel = diff / scale
    return (
        OutputParity(
            max_abs_error=float(diff.max(initial=0.0)),
            max_rel_error=float(rel.max(initial=0.0)),
            mismatches=int(bad.sum()),
            elements=int(bad.size),
        ),
        bad,
    )


def _describe(
    name: str,
    expected: np.ndarray,
    got: np.ndarray,
    bad: np.ndarray,
    parity: OutputParity,
    allowed: int,
) -> str:
    lines = [
        f"output {name!r}: {parity.mismatches} of {parity.elements} elements differ "
        f"(allowed {allowed}); max abs error {parity.max_abs_error:.3g}, "
        f"max rel error {parity.max_rel_error:.3g}"
    ]
    flat_bad = np.flatnonzero(bad)
    if _numeric(expected) and _numeric(got):
        diff = np.abs(expected.astype(np.float64) - got.astype(np.float64)).ravel()
        flat_bad = flat_bad[np.argsort(-np.nan_to_num(diff[flat_bad], nan=np.inf))]
    for flat in flat_bad[:_WORST_SHOWN]:
        index = np.unravel_index(int(flat), expected.shape)
        where = ", ".join(str(int(i)) for i in index)
        lines.append(f"  at [{where}]: source {expected[index]!r}, artifact {got[index]!r}")
    return "\n".join(lines)
