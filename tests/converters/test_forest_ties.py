"""Exact ties between the classes of a random forest: two trees that disagree give 0.5 and
0.5. scikit-learn labels a tie with the first tied class; the parity report counts the tied
rows, and accepts any of the tied classes as the artifact's label (through the real
converters and runtimes)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from converters.pipeline import convert_file
from model_repo import Repository
from tests.converters.agreement import save, served

TARGETS = ["onnx", pytest.param("pmml", marks=pytest.mark.pmml)]


def _disagreeing_forest(classes: int, trees: int, seed: int) -> tuple[Any, np.ndarray]:
    """Trees of single-feature splits over features that all separate the classes in
    training, so that a point whose features say different classes splits the votes; and
    every such point of the grid."""
    from sklearn.ensemble import RandomForestClassifier

    base = np.repeat(np.arange(classes), 5)
    x = np.column_stack([base] * classes).astype(float)
    forest = RandomForestClassifier(trees, max_features=1, bootstrap=False, random_state=seed)
    forest.fit(x, base)
    grid = np.array(list(itertools.product(range(classes), repeat=classes)), dtype=np.float32)
    return forest, grid


def _tied(probabilities: np.ndarray) -> np.ndarray:
    return (probabilities == probabilities.max(axis=1, keepdims=True)).sum(axis=1) > 1


@pytest.mark.parametrize("target", TARGETS)
def test_two_trees_that_disagree_tie_and_the_report_says_so(tmp_path: Path, target: str) -> None:
    forest, grid = _disagreeing_forest(classes=2, trees=2, seed=0)
    roots = {int(tree.tree_.feature[0]) for tree in forest.estimators_}
    assert roots == {0, 1}  # the two trees split on different features
    probabilities = forest.predict_proba(grid.astype(np.float64))
    tied = _tied(probabilities)
    np.testing.assert_array_equal(probabilities[tied], [[0.5, 0.5], [0.5, 0.5]])
    sample = tmp_path / "grid.npy"
    np.save(sample, grid)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, save(tmp_path, forest), "forest", target, sample_path=sample)
    assert manifest.parity is not None and manifest.parity.passed
    label = repo.manifest("forest", manifest.version).parity.outputs["label"]  # as stored
    assert (label.ties, label.ties_broken_differently, label.mismatches) == (2, 0, 0)
    got = served(repo, manifest, {"input": grid})
    # onnxruntime and JPMML break an exact tie as scikit-learn does: the first class.
    np.testing.assert_array_equal(got["label"], forest.predict(grid.astype(np.float64)))
    np.testing.assert_array_equal(got["label"][tied], [0, 0])
    np.testing.assert_allclose(got["probabilities"][tied], 0.5)


def test_three_way_ties_in_onnx(tmp_path: Path) -> None:
    forest, grid = _disagreeing_forest(classes=3, trees=3, seed=2)
    tied = _tied(forest.predict_proba(grid.astype(np.float64)))
    assert tied.sum() > 0
    sample = tmp_path / "grid.npy"
    np.save(sample, grid)
    repo = Repository(tmp_path / "repo")
    manifest = convert_file(repo, save(tmp_path, forest), "forest3", "onnx", sample_path=sample)
    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.parity.outputs["label"].ties == int(tied.sum())
    got = served(repo, manifest, {"input": grid})
    np.testing.assert_array_equal(got["label"], forest.predict(grid.astype(np.float64)))


def test_a_forest_without_a_sample_records_the_ties_of_the_synthesized_one(
    tmp_path: Path,
) -> None:
    forest, _grid = _disagreeing_forest(classes=2, trees=2, seed=0)
    manifest = convert_file(Repository(tmp_path / "repo"), save(tmp_path, forest), "f", "onnx")
    assert manifest.parity is not None and manifest.parity.passed
    assert manifest.parity.sample_source.startswith("synthesized:256 rows from tree split")
    label = manifest.parity.outputs["label"]
    assert label.ties > 0 and label.ties_broken_differently == 0 and label.mismatches == 0
    assert manifest.to_dict()["parity"]["outputs"]["label"]["ties"] == label.ties
