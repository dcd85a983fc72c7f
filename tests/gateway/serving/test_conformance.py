"""Fitting request tensors to a signature: what is accepted leniently and what is named."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gateway.errors import InvalidInput
from gateway.serving.conformance import InputPlan
from gateway.serving.tensors import RequestTensor, from_json
from model_repo.signature import Signature, TensorSpec

COLUMNS = Signature.of(
    [TensorSpec("a", "FP32", (-1, 1)), TensorSpec("b", "INT64", (-1, 1))],
    [TensorSpec("label", "INT64", (-1,)), TensorSpec("probabilities", "FP32", (-1, 2))],
)
ARRAY = Signature.of([TensorSpec("input", "FP32", (-1, 3))], [TensorSpec("y", "FP32", (-1,))])
STRINGS = Signature.of([TensorSpec("s", "BYTES", (-1,))], [TensorSpec("y", "FP32", (-1,))])


def v2(name: str, datatype: str, shape: list[int], data: Any) -> RequestTensor:
    return RequestTensor(name, from_json(name, datatype, tuple(shape), data), datatype)


def tf(name: str | None, values: Any) -> RequestTensor:
    return RequestTensor(name, np.asarray(values, dtype=object if _strings(values) else None))


def _strings(values: Any) -> bool:
    return isinstance(np.asarray(values).flat[0].item(), str)


ACCEPTED = [
    (
        "same datatype",
        ARRAY,
        [v2("input", "FP32", [1, 3], [1.5, 2, 3])],
        {"input": ((1, 3), "float32")},
    ),
    (
        "FP64 that FP32 holds exactly",
        ARRAY,
        [v2("input", "FP64", [1, 3], [0.5, 2, 1e3])],
        {"input": ((1, 3), "float32")},
    ),
    (
        "INT32 into FP32 within 2**24",
        ARRAY,
        [v2("input", "INT32", [1, 3], [1, 2, 16777216])],
        {"input": ((1, 3), "float32")},
    ),
    (
        "FP16 into FP32",
        ARRAY,
        [v2("input", "FP16", [1, 3], [0.5, 1, 2])],
        {"input": ((1, 3), "float32")},
    ),
    (
        "[N] for a [-1, 1] column",
        COLUMNS,
        [v2("a", "FP32", [2], [1, 2]), v2("b", "INT32", [2], [1, 2])],
        {"a": ((2, 1), "float32"), "b": ((2, 1), "int64")},
    ),
    (
        "TF numbers read as the model's types",
        COLUMNS,
        [tf("a", [1, 2]), tf("b", [3.0, 4.0])],
        {"a": ((2, 1), "float32"), "b": ((2, 1), "int64")},
    ),
    (
        "an unnamed tensor for the only input",
        ARRAY,
        [tf(None, [[1, 2, 3]])],
        {"input": ((1, 3), "float32")},
    ),
    ("strings for BYTES", STRINGS, [tf("s", ["x", "y"])], {"s": ((2,), "object")}),
    (
        "[N, 1] for a [-1] input",
        STRINGS,
        [v2("s", "BYTES", [2, 1], ["x", "y"])],
        {"s": ((2,), "object")},
    ),
]


@pytest.mark.parametrize(
    ("why", "signature", "tensors", "expected"), ACCEPTED, ids=[a[0] for a in ACCEPTED]
)
def test_accepted(
    why: str, signature: Signature, tensors: list[RequestTensor], expected: dict[str, Any]
) -> None:
    fitted = InputPlan(signature).fit(tensors)
    assert {k: (v.shape, v.dtype.name) for k, v in fitted.items()} == expected


REFUSED = [
    (
        "FP64 not exact in FP32",
        ARRAY,
        [v2("input", "FP64", [1, 3], [0.1, 2, 3])],
        "expected datatype FP32, got FP64, and value 0.1 is not exactly representable",
    ),
    (
        "INT64 beyond FP32's integers",
        ARRAY,
        [v2("input", "INT64", [1, 3], [16777217, 1, 2])],
        "value 16777217 is not exactly representable as FP32",
    ),
    (
        "BOOL for numbers",
        ARRAY,
        [v2("input", "BOOL", [1, 3], [True, False, True])],
        "expected datatype FP32, got BOOL",
    ),
    (
        "negative into UINT",
        Signature.of([TensorSpec("u", "UINT8", (-1,))], []),
        [v2("u", "INT16", [1], [-1])],
        "out of the UINT8 range [0, 255]",
    ),
    (
        "too wide",
        ARRAY,
        [v2("input", "FP32", [1, 4], [1, 2, 3, 4])],
        "expected shape [-1, 3] (-1 = any size), got [1, 4]",
    ),
    ("one column missing", COLUMNS, [v2("a", "FP32", [1, 1], [1])], "missing input(s) 'b'"),
    (
        "a column twice",
        COLUMNS,
        [v2("a", "FP32", [1], [1]), v2("a", "FP32", [1], [2]), v2("b", "INT64", [1], [1])],
        "input 'a' is given twice",
    ),
    (
        "rows differ",
        COLUMNS,
        [v2("a", "FP32", [2], [1, 2]), v2("b", "INT64", [3], [1, 2, 3])],
        "same number of rows: a has 2, b has 3",
    ),
    (
        "unnamed with two inputs",
        COLUMNS,
        [tf(None, [1, 2])],
        "the model takes 2 inputs (a, b); name each one",
    ),
    (
        "TF fractions for INT64",
        COLUMNS,
        [tf("a", [1]), tf("b", [1.5])],
        "input 'b': INT64 data holds non-integer value 1.5",
    ),
    (
        "TF numbers for BYTES",
        STRINGS,
        [tf("s", [1, 2])],
        "input 's' takes strings (BYTES), got int64 values",
    ),
    (
        "unknown input",
        ARRAY,
        [v2("x", "FP32", [1, 3], [1, 2, 3])],
        "unknown input 'x'; the model takes input",
    ),
]


@pytest.mark.parametrize(
    ("why", "signature", "tensors", "message"), REFUSED, ids=[r[0] for r in REFUSED]
)
def test_refused_with_a_message_naming_the_problem(
    why: str, signature: Signature, tensors: list[RequestTensor], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        InputPlan(signature).fit(tensors)
    assert message in caught.value.message


def test_requested_outputs_are_checked_before_running() -> None:
    plan = InputPlan(COLUMNS)
    assert plan.check_outputs(None) == ("label", "probabilities")
    assert plan.check_outputs(["probabilities"]) == ("probabilities",)
    with pytest.raises(
        InvalidInput, match="unknown output 'score'; the model has label, probabilities"
    ):
        plan.check_outputs(["score"])


def test_a_plan_with_runtime_shapes_feeds_shapes_as_sent_and_still_checks_datatypes() -> None:
    column = Signature.of([TensorSpec("x", "FP32", (-1, 1))], [TensorSpec("y", "FP32", (-1, 1))])
    tf_plan, v2_plan = InputPlan(column, runtime_shapes=True), InputPlan(column)
    for values in ([1.0, 2.0, 5.0], [[1.0, 2.0], [3.0, 4.0]]):
        fitted = tf_plan.fit([tf(None, values)])["x"]
        assert fitted.dtype == np.float32 and fitted.tolist() == values
    assert v2_plan.fit([tf(None, [1.0, 2.0, 5.0])])["x"].shape == (3, 1)  # V2's leniency
    with pytest.raises(InvalidInput, match="expected shape"):
        v2_plan.fit([tf(None, [[1.0, 2.0]])])
    with pytest.raises(InvalidInput, match="must be numbers"):
        tf_plan.fit([tf(None, ["a", "b"])])
    two = Signature.of(
        [TensorSpec("a", "FP32", (-1, 1)), TensorSpec("b", "FP32", (-1, 1))],
        [TensorSpec("y", "FP32", (-1, 1))],
    )
    rows = InputPlan(two, runtime_shapes=True).fit([tf("a", [1.0]), tf("b", [1.0, 2.0])])
    assert [a.shape for a in rows.values()] == [(1,), (2,)]  # TensorFlow decides
