"""Two repairs of skl2onnx's tree ensembles, so that their split decisions are scikit-learn's.

Thresholds. scikit-learn compares a float32 input, as a float64, with a float64 threshold;
the ONNX graph compares float32 with float32. skl2onnx moves each threshold t of decision
trees and forests to the largest float32 at or below t (for float32 x, `x <= t` exactly when
`x <= that float32`), but not those of HistGradientBoosting: there `float32(t)` may round
above t, and an input equal to it (a training value, say: HistGradientBoosting splits on
them) goes left in ONNX and right in scikit-learn. `float32_thresholds` converts a copy whose
HistGradientBoosting thresholds are moved the same way, which changes nothing for scikit-learn
on float32 inputs.

Missing values. scikit-learn's trees (since 1.3) send NaN down the child each node recorded
(`missing_go_to_left`); skl2onnx writes HistGradientBoosting's choice into the graph, but
for DecisionTree, RandomForest and ExtraTrees it leaves `nodes_missing_value_tracks_true` at
0, so NaN fails every comparison and goes right. `route_missing_values` writes each node's
choice, finding the scikit-learn tree of each ONNX tree by its structure (node ids, features,
children), which skl2onnx keeps, and among trees of one structure by their order.
"""

from __future__ import annotations

import copy
from collections import defaultdict, deque
from collections.abc import Iterator
from typing import Any

import numpy as np

from converters.sklearn_common import iter_steps

_TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")


def all_estimators(model: Any) -> Iterator[Any]:
    """Every estimator inside `model`: pipeline steps, and the fitted members of ensembles."""
    for _path, step in iter_steps(model):
        yield step
        members = getattr(step, "estimators_", [])
        if isinstance(members, np.ndarray):  # gradient boosting: one row per stage
            members = members.ravel().tolist()
        final = getattr(step, "final_estimator_", None)  # stacking
        for member in [*members, *([final] if final is not None else [])]:
            if hasattr(member, "fit"):
                yield from all_estimators(member)


def float32_thresholds(model: Any) -> Any:
    """A copy of `model` whose HistGradientBoosting thresholds lie on float32 values at or
    below the originals; `model` itself when it has none."""
    if not any(hasattr(e, "_predictors") for e in all_estimators(model)):
        return model
    model = copy.deepcopy(model)
    for estimator in all_estimators(model):
        for iteration in getattr(estimator, "_predictors", []):
            for predictor in iteration:  # one tree per class and iteration
                nodes = predictor.nodes
                nodes["num_threshold"] = float32_floor(nodes["num_threshold"])
    return model


def float32_floor(values: np.ndarray) -> np.ndarray:
    """The largest float32 at or below each value (as float64)."""
    rounded = np.asarray(values, dtype=np.float64).astype(np.float32)
    above = rounded.astype(np.float64) > values
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded.astype(np.float64)


def route_missing_values(graph: Any, model: Any) -> None:
    """Write scikit-learn's missing-value direction into every tree of `graph` that comes
    from one of `model`'s decision trees (HistGradientBoosting's are right already)."""
    directions = _directions(model)
    if not directions:
        return
    for node in graph.graph.node:
        if node.op_type in _TREE_OPS and node.domain == "ai.onnx.ml":
            _route(node, directions)


Structure = tuple[tuple[int, int, int, int], ...]  # (node id, feature, left, right) per branch


def _directions(model: Any) -> dict[Structure, deque[np.ndarray]]:
    """The structure of each scikit-learn tree -> its nodes' missing_go_to_left, in the
    order of the model's trees (several trees may share a structure: boosting stages of
    one depth on the same features, say, each sending NaN its own way)."""
    found: dict[Structure, deque[np.ndarray]] = defaultdict(deque)
    for estimator in all_estimators(model):
        tree = getattr(estimator, "tree_", None)
        missing = getattr(tree, "missing_go_to_left", None)
        if tree is None or missing is None:
            continue
        branches = np.flatnonzero(tree.children_left >= 0)
        key = tuple(
            zip(
                branches.tolist(),
                tree.feature[branches].tolist(),
                tree.children_left[branches].tolist(),
                tree.children_right[branches].tolist(),
                strict=True,
            )
        )
        found[key].append(np.asarray(missing, dtype=np.int64))
    return found


def _route(node: Any, directions: dict[Structure, deque[np.ndarray]]) -> None:
    """skl2onnx writes a model's trees in the model's order (forests by estimator, boosting
    by stage), so the n-th ONNX tree of a structure is the n-th scikit-learn tree of it."""
    attrs = {a.name: a for a in node.attribute}
    ids = list(attrs["nodes_nodeids"].ints)
    features = list(attrs["nodes_featureids"].ints)
    true, false = list(attrs["nodes_truenodeids"].ints), list(attrs["nodes_falsenodeids"].ints)
    missing = attrs.get("nodes_missing_value_tracks_true")
    tracks = list(missing.ints) if missing is not None else [0] * len(ids)
    branches: dict[int, list[int]] = defaultdict(list)
    for i, (tree, mode) in enumerate(
        zip(attrs["nodes_treeids"].ints, attrs["nodes_modes"].strings, strict=True)
    ):
        if mode != b"LEAF":
            branches[tree].append(i)
    for _tree, rows in sorted(branches.items()):
        rows.sort(key=ids.__getitem__)
        key = tuple((ids[i], features[i], true[i], false[i]) for i in rows)
        queue = directions.get(key)
        if not queue:  # not a tree of the model's (HistGradientBoosting's are right already)
            continue
        flags = queue.popleft()
        for i in rows:
            tracks[i] = int(flags[ids[i]])
    _set_ints(node, "nodes_missing_value_tracks_true", tracks)


def _set_ints(node: Any, name: str, values: list[int]) -> None:
    from onnx import helper

    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend([*kept, helper.make_attribute(name, values)])
