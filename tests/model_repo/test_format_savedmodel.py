"""The savedmodel format against real SavedModels written by TensorFlow."""

from __future__ import annotations

import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from model_repo.errors import ArtifactError, DependencyMissing, InvalidArgument
from model_repo.formats import get_format

pytestmark = [
    pytest.mark.tensorflow,
    pytest.mark.skipif(
        importlib.util.find_spec("tensorflow") is None, reason="needs the tensorflow extra"
    ),
]


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("savedmodels")
    module = tf.Module()
    module.w = tf.Variable([[1.0, -1.0], [0.5, 2.0]])

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 2], tf.float32, name="features"),
            tf.TensorSpec([None], tf.int64, name="ids"),
            tf.TensorSpec([None], tf.string, name="tag"),
        ]
    )
    def serve(features: tf.Tensor, ids: tf.Tensor, tag: tf.Tensor) -> dict[str, tf.Tensor]:
        return {
            "score": tf.matmul(features, module.w),
            "next_id": ids + 1,
            "loud": tf.strings.upper(tag),
        }

    module.serve = serve
    tf.saved_model.save(module, str(folder / "served"), signatures={"serving_default": serve})
    unsigned = tf.Module()
    unsigned.v = tf.Variable(1.0)
    tf.saved_model.save(unsigned, str(folder / "unsigned"))
    (folder / "not_a_model").mkdir()
    (folder / "not_a_model" / "weights.bin").write_bytes(b"\0" * 16)
    return {name: folder / name for name in ("served", "unsigned", "not_a_model")}


def test_describe_reads_the_serving_signature(saved_models: dict[str, Path]) -> None:
    signature = get_format("savedmodel").describe(saved_models["served"])

    assert signature.to_dict() == {
        "inputs": [
            {"name": "features", "datatype": "FP32", "shape": [-1, 2]},
            {"name": "ids", "datatype": "INT64", "shape": [-1]},
            {"name": "tag", "datatype": "BYTES", "shape": [-1]},
        ],
        "outputs": [
            {"name": "loud", "datatype": "BYTES", "shape": [-1]},
            {"name": "next_id", "datatype": "INT64", "shape": [-1]},
            {"name": "score", "datatype": "FP32", "shape": [-1, 2]},
        ],
    }


def _inputs(rows: int) -> dict[str, np.ndarray]:
    features = np.arange(rows * 2, dtype=np.float64).reshape(rows, 2)  # cast to FP32 on the way
    ids = np.arange(rows, dtype=np.int64)
    tags = np.array([f"t{i}" for i in range(rows)], dtype=object)
    return {"features": features, "ids": ids, "tag": tags}


def test_predictor_returns_numpy_outputs_named_as_the_signature(
    saved_models: dict[str, Path],
) -> None:
    predictor = get_format("savedmodel").open(saved_models["served"])
    got = predictor.predict(_inputs(3))
    predictor.close()

    assert set(got) == {"score", "next_id", "loud"}
    features = _inputs(3)["features"].astype(np.float32)
    np.testing.assert_allclose(got["score"], features @ np.array([[1.0, -1.0], [0.5, 2.0]]))
    assert got["score"].dtype == np.float32
    np.testing.assert_array_equal(got["next_id"], [1, 2, 3])
    assert [bytes(v) for v in got["loud"]] == [b"T0", b"T1", b"T2"]


def test_predictor_serves_many_threads_at_once(saved_models: dict[str, Path]) -> None:
    predictor = get_format("savedmodel").open(saved_models["served"])
    batches = [_inputs(rows) for rows in range(1, 33)]
    expected = [predictor.predict(b)["score"] for b in batches]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda b: predictor.predict(b)["score"], batches * 4))
    predictor.close()
    for i, got in enumerate(results):
        np.testing.assert_array_equal(got, expected[i % len(batches)])


def test_missing_input_is_named(saved_models: dict[str, Path]) -> None:
    predictor = get_format("savedmodel").open(saved_models["served"])
    inputs = _inputs(2)
    del inputs["ids"]
    with pytest.raises(InvalidArgument, match=r"missing: ids"):
        predictor.predict(inputs)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("not_a_model", r"not_a_model is not a TensorFlow SavedModel directory.*saved_model\.pb"),
        ("unsigned", r"unsigned has no 'serving_default' signature"),
    ],
)
def test_describe_refuses_what_cannot_be_served(
    saved_models: dict[str, Path], case: str, message: str
) -> None:
    with pytest.raises(ArtifactError, match=message):
        get_format("savedmodel").describe(saved_models[case])


def test_missing_tensorflow_names_the_extra(
    saved_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # what `import` sees when absent
    with pytest.raises(DependencyMissing, match=r"pip install 'modelport\[tensorflow\]'"):
        get_format("savedmodel").describe(saved_models["served"])
