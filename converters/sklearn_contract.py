"""The base of the scikit-learn converters: what every target format does the same way.

Inputs, outputs and the reference run follow `sklearn_common`; samples are synthesised by
`sklearn_synth`. The tolerance depends on the kind of model:
- CONTINUOUS (rtol 1e-5, atol 1e-5, no mismatches) for models whose outputs are smooth
  in their inputs: float32 arithmetic in the artifact against float64 in scikit-learn.
- DISCRETE (rtol 1e-4, atol 1e-5, 1% of elements may differ) for trees, nearest
  neighbours, and ensembles with one among their members: a float32 input lying on a split
  threshold, or a distance tie, may go the other way and change the output outright.
The kind is decided by the final estimator's class (an isinstance check, never its module
or name), so a voting ensemble of linear models keeps the strict tolerance.

XGBoost and LightGBM wrappers are trees too, and get DISCRETE. The ONNX graph sums their
trees in float32, XGBoost does too in another order, LightGBM in doubles; so the artifact's
probabilities differ by a few float32 ulps of 1 and a prediction by a few ulps of its scale.
Measured to ONNX on 54 models (9 datasets, 20 trees of depth 2 to 300 of depth 10, the
synthesised sample and fresh rows): probabilities at most 1.7e-6 (XGBoost) and 6.6e-7
(LightGBM) apart, predictions at most 4.9e-6 of the largest prediction apart, so within
rtol 1e-4 except for 1 of 256 rows of one model (300 trees, predictions near 0 among values of
+-4e5), which the 1% budget covers; no label differed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from converters import boosters
from converters.base import Sample, SourceModel
from converters.sklearn_common import (
    check_kind,
    final_estimator,
    input_specs,
    reference,
    text_inputs,
)
from converters.sklearn_synth import synthesize
from model_repo.formats.base import Tensors
from model_repo.manifest import Tolerance
from model_repo.signature import TensorSpec

CONTINUOUS = Tolerance(rtol=1e-5, atol=1e-5)
DISCRETE = Tolerance(rtol=1e-4, atol=1e-5, mismatch_budget=0.01)


class SklearnContract:
    """The part of a scikit-learn converter that every target format shares."""

    framework = "sklearn"

    def input_specs(self, model: SourceModel) -> tuple[TensorSpec, ...]:
        check_kind(model.obj)
        return input_specs(model.obj)

    def text_inputs(self, model: SourceModel) -> frozenset[str]:
        return frozenset(text_inputs(model.obj))

    def synthesize(self, model: SourceModel, rows: int, seed: int) -> Sample:
        return synthesize(model, rows, seed)

    def reference(self, model: SourceModel, inputs: Tensors) -> Tensors:
        return reference(model.obj, inputs)

    def tolerance(self, model: SourceModel) -> Tolerance:
        return tolerance(model.obj)


def tolerance(model: Any) -> Tolerance:
    return DISCRETE if is_discrete(final_estimator(model)) else CONTINUOUS


def is_discrete(estimator: Any) -> bool:
    """True for trees and nearest neighbours, and for ensembles with one among their members
    (bagging, AdaBoost, voting, stacking): their outputs jump where a float32 input lands on
    the other side of a split threshold or breaks a distance tie."""
    from sklearn import ensemble

    if isinstance(estimator, _discrete_types()) or boosters.is_booster(estimator):
        return True
    members = list(getattr(estimator, "estimators_", []))
    if isinstance(estimator, (ensemble.StackingClassifier, ensemble.StackingRegressor)):
        members.append(estimator.final_estimator_)
    elif not isinstance(
        estimator, (ensemble.BaseEnsemble, ensemble.VotingClassifier, ensemble.VotingRegressor)
    ):
        return False
    return any(is_discrete(final_estimator(member)) for member in members)


@cache
def _discrete_types() -> tuple[type, ...]:
    from sklearn import ensemble, neighbors, tree

    return (
        tree.BaseDecisionTree,  # decision and extra trees, classifier and regressor
        ensemble.ExtraTreesClassifier,
        ensemble.ExtraTreesRegressor,
        ensemble.GradientBoostingClassifier,
        ensemble.GradientBoostingRegressor,
        ensemble.HistGradientBoostingClassifier,
        ensemble.HistGradientBoostingRegressor,
        ensemble.IsolationForest,
        ensemble.RandomForestClassifier,
        ensemble.RandomForestRegressor,
        neighbors.KNeighborsClassifier,
        neighbors.KNeighborsRegressor,
        neighbors.RadiusNeighborsClassifier,
        neighbors.RadiusNeighborsRegressor,
    )
