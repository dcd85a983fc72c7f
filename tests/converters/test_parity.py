"""The comparison at the heart of the parity check (pure logic: plain arrays in, report out)."""

from __future__ import annotations

import numpy as np
import pytest

from converters.parity import compare
from model_repo.manifest import Tolerance

TOL = Tolerance(rtol=1e-5, atol=1e-5)
INF, NAN = np.inf, np.nan


def _passes(expected: list[float], got: list[float]) -> bool:
    reference = {"prediction": np.asarray(expected, dtype=np.float32)}
    candidate = {"prediction": np.asarray(got, dtype=np.float32)}
    report, problems = compare(reference, candidate, TOL, "test")
    assert report.passed == (not problems)
    return report.passed


@pytest.mark.parametrize(
    ("expected", "got", "passes"),
    [
        ([1.0, INF], [1.0, INF], True),
        ([-INF], [-INF], True),
        ([NAN, 2.0], [NAN, 2.0], True),
        ([INF], [1.0], False),
        ([1.0], [INF], False),
        ([INF], [-INF], False),
        ([INF], [NAN], False),
        ([NAN], [0.0], False),
        ([0.0], [NAN], False),
        ([1.0], [1.000001], True),
        ([1.0], [1.001], False),
    ],
)
def test_non_finite_values_agree_only_exactly(
    expected: list[float], got: list[float], passes: bool
) -> None:
    assert _passes(expected, got) is passes


def test_an_infinite_disagreement_is_reported_with_its_element() -> None:
    report, problems = compare(
        {"prediction": np.asarray([1.0, INF])}, {"prediction": np.asarray([1.0, 5.0])}, TOL, "t"
    )
    assert not report.passed
    assert report.outputs["prediction"].mismatches == 1
    assert "at [1]: source inf, artifact 5.0" in problems[0]


def test_an_output_the_source_model_does_not_give_fails_by_name() -> None:
    same = np.zeros(3, dtype=np.float32)
    report, problems = compare({"prediction": same}, {"prediction": same, "debug": same}, TOL, "t")
    assert not report.passed
    assert problems == ["output 'debug' is given by the artifact but not by the source model"]


def test_an_output_the_artifact_lacks_fails_by_name() -> None:
    same = np.zeros(3, dtype=np.float32)
    report, problems = compare({"label": same, "probabilities": same}, {"label": same}, TOL, "t")
    assert not report.passed
    assert problems == ["output 'probabilities' is missing from the artifact's outputs"]
