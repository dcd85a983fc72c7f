"""What the new converter tests share: saving a fitted model as a user would, and checking
that a published artifact, opened and run by `model_repo` (the code that serves it), answers
exactly like scikit-learn on given rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from model_repo import Manifest, Repository
from model_repo.formats.base import Tensors


def save(folder: Path, model: Any, name: str = "model") -> Path:
    import skops.io

    path = folder / f"{name}.skops"
    skops.io.dump(model, path)
    return path


def served(repo: Repository, manifest: Manifest, inputs: Tensors) -> Tensors:
    _, predictor = repo.open(manifest.name, manifest.version)
    try:
        return predictor.predict(inputs)
    finally:
        predictor.close()


def assert_answers_like_sklearn(
    repo: Repository, manifest: Manifest, model: Any, inputs: Tensors, rows: Any
) -> float:
    """The artifact on `inputs` against scikit-learn on `rows` (the same values as the source
    model takes them), within the manifest's tolerance and with every label equal; the
    largest absolute difference."""
    got = served(repo, manifest, inputs)
    assert manifest.parity is not None
    tolerance = manifest.parity.tolerance
    if "label" in got:
        np.testing.assert_array_equal(got["label"].astype(str), model.predict(rows).astype(str))
        want, have = model.predict_proba(rows), got["probabilities"]
    else:
        want, have = (
            np.asarray(model.predict(rows)).reshape(got["prediction"].shape),
            got["prediction"],
        )
    assert have.dtype == np.float32
    np.testing.assert_allclose(have, want, rtol=tolerance.rtol, atol=tolerance.atol)
    return float(np.max(np.abs(have.astype(np.float64) - want), initial=0.0))


def contract_tensors(rows: Any, names: list[str]) -> Tensors:
    """`rows` as the inputs `names` of the scikit-learn contract: one [N, F] float32 `input`
    for a model fitted on an array, else one [N, 1] tensor per column."""
    if names == ["input"]:
        return {"input": np.asarray(rows, dtype=np.float32)}
    return column_tensors(rows, names)


def column_tensors(frame: Any, names: list[str]) -> Tensors:
    """One [N, 1] tensor per column: float32 numbers, object strings."""
    out: Tensors = {}
    for name in names:
        column = frame[name].to_numpy().reshape(-1, 1)
        out[name] = column.astype(object) if column.dtype == object else column.astype(np.float32)
    return out


def as_source_takes_it(frame: Any) -> Any:
    """`frame` (or an array) with its numbers rounded through float32, as the FP32 contract
    hands them."""
    if not hasattr(frame, "columns"):
        return np.asarray(frame, dtype=np.float32).astype(np.float64)
    from pandas.api.types import is_numeric_dtype

    return frame.apply(lambda c: c.astype(np.float32).astype(float) if is_numeric_dtype(c) else c)
