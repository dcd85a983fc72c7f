"""The parity check: source model and artifact on the same sample, compared per output.

The artifact must give exactly the source model's outputs: one it lacks, or one the source
model does not give, fails the check (a client would see a different response).

Numeric outputs are compared element by element: finite values within atol + rtol * |source|.
Non-finite values are not numbers to be close to, so they must agree exactly: +inf only
with +inf, -inf only with -inf, NaN only with NaN (the same missing result on both sides);
a finite value against inf or NaN always differs. Such a difference counts as one mismatch,
like any other, against the tolerance's mismatch budget (0 for all but trees and neighbours).
Text and label outputs must be equal, with one exception: a row whose highest source
probability several classes share exactly (compared as FP32, the precision of the outputs)
has no single right label. scikit-learn then takes the first of the tied classes in
`classes_` order; onnxruntime and JPMML do the same on exact ties, but their float32 sums
may split a tie either way. So on a tied row the artifact's label agrees when it is any of
the tied classes; the report counts the tied rows and those labelled with another tied class
than the source's (`OutputParity.ties`, `ties_broken_differently`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from model_repo.formats.base import Tensors
from model_repo.manifest import OutputParity, ParityReport, Tolerance

_WORST_SHOWN = 3


def compare(
    reference: Tensors,
    candidate: Tensors,
    tolerance: Tolerance,
    sample_source: str,
    forced: bool = False,
    labels: tuple[Any, ...] | None = None,
) -> tuple[ParityReport, list[str]]:
    """Compare every reference output with the artifact's; the report and, for each
    failing output, lines describing its worst elements. `labels` (the classes in the
    order of `probabilities`' columns) lets a tied row take any of its tied labels."""
    outputs: dict[str, OutputParity] = {}
    problems = [
        f"output {name!r} is given by the artifact but not by the source model"
        for name in candidate
        if name not in reference
    ]
    passed = not problems
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
        if name == "label":
            parity, bad = _forgive_ties(parity, bad, got, reference.get("probabilities"), labels)
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


def _forgive_ties(
    parity: OutputParity,
    bad: np.ndarray,
    got: np.ndarray,
    probabilities: np.ndarray | None,
    labels: tuple[Any, ...] | None,
) -> tuple[OutputParity, np.ndarray]:
    """Labels that differ only by taking another class tied for the highest probability
    are not mismatches; the parity counts the ties."""
    if probabilities is None or labels is None or probabilities.ndim != 2:
        return parity, bad
    if probabilities.shape != (bad.shape[0], len(labels)):
        return parity, bad
    top = probabilities == probabilities.max(axis=1, keepdims=True)
    tied = top.sum(axis=1) > 1
    names = np.asarray([str(label) for label in labels], dtype=object)
    given = [v.decode() if isinstance(v, bytes) else str(v) for v in got.reshape(-1).tolist()]
    chosen = np.asarray(given, dtype=object).reshape(-1, 1) == names.reshape(1, -1)
    forgiven = bad & tied & (chosen & top).any(axis=1)
    bad = bad & ~forgiven
    return replace(
        parity,
        mismatches=int(bad.sum()),
        ties=int(tied.sum()),
        ties_broken_differently=int(forgiven.sum()),
    ), bad


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
    finite = np.isfinite(want) & np.isfinite(have)
    # inf == inf holds, NaN == NaN does not: hence the separate test for two NaNs.
    same = (want == have) | (np.isnan(want) & np.isnan(have))
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, huge - -huge
        diff = np.where(finite, np.abs(want - have), np.where(same, 0.0, np.inf))
        bad = np.where(finite, diff > tol.atol + tol.rtol * np.abs(want), ~same)
        scale = np.maximum(np.abs(want), np.finfo(np.float64).tiny)
        rel = np.where(finite, diff / scale, diff)
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
        with np.errstate(invalid="ignore", over="ignore"):
            diff = np.abs(expected.astype(np.float64) - got.astype(np.float64)).ravel()
        flat_bad = flat_bad[np.argsort(-np.nan_to_num(diff[flat_bad], nan=np.inf))]
    for flat in flat_bad[:_WORST_SHOWN]:
        index = np.unravel_index(int(flat), expected.shape)
        where = ", ".join(str(int(i)) for i in index)
        lines.append(
            f"  at [{where}]: source {_plain(expected[index])!r}, artifact {_plain(got[index])!r}"
        )
    return "\n".join(lines)


def _plain(value: Any) -> Any:
    """1.5 rather than numpy's repr np.float32(1.5), which buries the value in a message."""
    return value.item() if isinstance(value, np.generic) else value
