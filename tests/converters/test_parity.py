"""The comparison at the heart of the parity check (pure logic: plain arrays in, report out)."""

from __future__ import annotations

import numpy as np
import pytest

from converters.parity import compare
from model_repo.manifest import ParityReport, Tolerance

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


def _labels_against(got: list[int]) -> tuple[ParityReport, list[str]]:
    """Source: rows 0 and 1 tie between classes 10 and 20 (it says 10); row 2 is 30."""
    probabilities = np.asarray([[0.5, 0.5, 0.0], [0.25, 0.25, 0.5], [0.1, 0.2, 0.7]])
    reference = {
        "label": np.asarray([10, 30, 30]),
        "probabilities": probabilities.astype(np.float32),
    }
    candidate = {"label": np.asarray(got), "probabilities": probabilities.astype(np.float32)}
    labels = (10, 20, 30)
    return compare(reference, candidate, TOL, "t", labels=labels)


def test_a_tied_row_may_take_any_of_its_tied_labels_and_is_counted() -> None:
    report, problems = _labels_against([20, 30, 30])
    assert report.passed and problems == []
    label = report.outputs["label"]
    assert (label.mismatches, label.ties, label.ties_broken_differently) == (0, 1, 1)
    assert label.to_dict()["ties_broken_differently"] == 1


def test_a_tied_row_labelled_with_a_class_outside_the_tie_is_a_mismatch() -> None:
    report, problems = _labels_against([30, 30, 30])
    assert not report.passed
    assert report.outputs["label"].mismatches == 1
    assert "at [0]: source 10, artifact 30" in problems[0]


def test_a_row_without_a_tie_must_have_the_source_label() -> None:
    report, _problems = _labels_against([10, 30, 20])
    assert not report.passed and report.outputs["label"].mismatches == 1
    assert report.outputs["label"].ties == 1  # only row 0


def test_without_ties_the_label_parity_is_written_as_before() -> None:
    same = {"label": np.asarray([1, 2]), "probabilities": np.eye(2, dtype=np.float32)}
    report, _ = compare(same, same, TOL, "t", labels=(1, 2))
    assert report.outputs["label"].to_dict() == {
        "max_abs_error": 0.0,
        "max_rel_error": 0.0,
        "mismatches": 0,
        "elements": 2,
    }
