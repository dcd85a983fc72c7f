"""Inputs for checking a rewritten ONNX model against its original, from the graph alone.

Shapes: fixed dimensions as declared; a free first (batch) dimension gets `ROWS`, other free
ones `FREE_DIM`. Values: standard normal floats, 0/1 integers (so ids stay inside small
tables), random booleans, and for text a mix of cased ASCII words and the model's own
StringNormalizer stopwords (so their removal is exercised). ASCII only: onnx's reference
StringNormalizer strips accents, which onnxruntime does not, so accented text would flag a
difference of the two evaluators rather than of the two models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from converters.onnx_locale import stopwords
from model_repo.formats.base import Tensors
from model_repo.signature import Signature, TensorSpec, numpy_dtype

ROWS = 8
FREE_DIM = 3
SEED = 0
WORDS = ("Monday", "tuesday", "WEDNESDAY", "apple", "Zebra", "x", "Hello World")


def synthesized_feed(signature: Signature, model: Any) -> tuple[Tensors, str]:
    """One input per graph input; and how it was made, for the parity report."""
    rng = np.random.default_rng(SEED)
    words = np.asarray([*WORDS, *stopwords(model)], dtype=object)
    feed = {spec.name: _tensor(rng, spec, words) for spec in signature.inputs}
    how = (
        f"synthesized from the graph's inputs: free batch dim {ROWS}, other free dims "
        f"{FREE_DIM}, standard normal floats, 0/1 integers, ASCII words"
    )
    return feed, how


def _tensor(rng: np.random.Generator, spec: TensorSpec, words: np.ndarray) -> np.ndarray:
    shape = tuple(_size(i, d) for i, d in enumerate(spec.shape))
    if spec.datatype == "BYTES":
        return np.asarray(rng.choice(words, size=shape), dtype=object)
    dtype = numpy_dtype(spec.datatype)
    if dtype.kind == "f":
        return np.asarray(rng.standard_normal(shape), dtype=dtype)
    if dtype.kind == "b":
        return np.asarray(rng.random(shape) < 0.5)
    return np.asarray(rng.integers(0, 2, shape), dtype=dtype)


def _size(axis: int, dim: int) -> int:
    if dim != -1:
        return dim
    return ROWS if axis == 0 else FREE_DIM


def reference_copy(model: Any) -> Any:
    """`model` without StringNormalizer `locale` attributes, for the reference evaluator.

    Its StringNormalizer calls `locale.setlocale(LC_ALL, <attribute>)`, which changes the
    locale of the whole process (every thread of a serving gateway), and its case mapping
    is Python's `str.upper`, which no locale changes; without the attribute it leaves the
    process locale alone and computes the same thing.
    """
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for node in copy.graph.node:
        if node.op_type == "StringNormalizer":
            kept = [a for a in node.attribute if a.name != "locale"]
            del node.attribute[:]
            node.attribute.extend(kept)
    return copy
