"""Random inputs for models that record only their input specs (PyTorch, Keras)."""

from __future__ import annotations

import numpy as np

from converters.base import Sample
from model_repo.signature import TensorSpec, numpy_dtype

FREE_DIM = 3  # size given to a free non-batch dimension (a sequence length, say)


def random_tensor(rng: np.random.Generator, spec: TensorSpec, rows: int) -> np.ndarray:
    """Standard normal floats; 0/1 for integers, so ids stay inside embedding tables."""
    shape = (rows, *(FREE_DIM if d == -1 else d for d in spec.shape[1:]))
    dtype = numpy_dtype(spec.datatype)
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    return rng.integers(0, 2, shape).astype(dtype)


def random_sample(specs: tuple[TensorSpec, ...], rows: int, seed: int) -> Sample:
    rng = np.random.default_rng(seed)
    tensors = {spec.name: random_tensor(rng, spec, rows) for spec in specs}
    return Sample(tensors, source=f"synthesized:{rows} rows, standard normal")
