"""tf.Examples written without TensorFlow, read back by TensorFlow's own proto and parser."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from gateway.errors import InvalidInput
from gateway.serving.tf_example import Examples, Feature, feature_columns, serialize, serialized

needs_tf = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None, reason="needs the tensorflow extra"
)
FEATURES = {
    "x": Feature("float", (2.5,)),
    "ids": Feature("int64", (0, -1, 2**63 - 1, -(2**63))),
    "text": Feature("bytes", ("wörld", b"\x00\xff")),
    "empty": Feature("float", ()),
}


@needs_tf
@pytest.mark.tensorflow
def test_serialized_examples_are_what_tensorflow_reads() -> None:
    import tensorflow as tf

    parsed = tf.train.Example.FromString(serialize(FEATURES))
    expected = tf.train.Example(
        features=tf.train.Features(
            feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[2.5])),
                "ids": tf.train.Feature(
                    int64_list=tf.train.Int64List(value=[0, -1, 2**63 - 1, -(2**63)])
                ),
                "text": tf.train.Feature(
                    bytes_list=tf.train.BytesList(value=["wörld".encode(), b"\x00\xff"])
                ),
                "empty": tf.train.Feature(float_list=tf.train.FloatList(value=[])),
            }
        )
    )
    assert parsed == expected


@needs_tf
@pytest.mark.tensorflow
def test_context_goes_into_every_example_and_parse_example_reads_them() -> None:
    import tensorflow as tf

    examples = Examples(
        [{"x": Feature("float", (1.0,))}, {"x": Feature("float", (3.0,))}],
        {"x2": Feature("float", (10.0,))},
    )
    protos = serialized(examples)
    assert protos.shape == (2,) and protos.dtype == object
    spec = {name: tf.io.FixedLenFeature([1], tf.float32) for name in ("x", "x2")}
    parsed = tf.io.parse_example(tf.constant(protos), spec)
    assert parsed["x"].numpy().tolist() == [[1.0], [3.0]]
    assert parsed["x2"].numpy().tolist() == [[10.0], [10.0]]


def test_features_become_the_inputs_of_their_names() -> None:
    examples = Examples(
        [
            {
                "a": Feature("float", (1.5,)),
                "v": Feature("int64", (1, 2)),
                "s": Feature("bytes", ("p",)),
            },
            {
                "a": Feature("int64", (2,)),
                "v": Feature("int64", (3, 4)),
                "s": Feature("bytes", ("q",)),
            },
        ],
        {"w": Feature("bytes", ("u", "v"))},
    )
    tensors = {t.name: t.array for t in feature_columns(examples, ["a", "v", "s", "w"])}
    assert tensors["a"].dtype == np.float64 and tensors["a"].tolist() == [1.5, 2.0]
    assert tensors["v"].dtype == np.int64 and tensors["v"].tolist() == [[1, 2], [3, 4]]
    assert tensors["s"].dtype == object and tensors["s"].tolist() == ["p", "q"]
    assert tensors["w"].shape == (2, 2) and tensors["w"].tolist() == [["u", "v"], ["u", "v"]]


@pytest.mark.parametrize(
    ("examples", "phrase"),
    [
        ([{"b": Feature("float", (1.0,))}, {"a": Feature("float", (1.0,))}], "example 1 has no"),
        (
            [{"b": Feature("float", (1.0,))}, {"b": Feature("float", (1.0, 2.0))}],
            "different lengths",
        ),
        ([{"b": Feature("float", (1.0,))}, {"b": Feature("bytes", ("x",))}], "mixes strings"),
    ],
)
def test_features_that_do_not_make_a_column_are_named(
    examples: list[dict[str, Feature]], phrase: str
) -> None:
    with pytest.raises(InvalidInput, match=phrase):
        feature_columns(Examples(examples, {}), ["b"])
