"""TF1-era SavedModels (TF Serving's half_plus_two and half_plus_three, rebuilt with
tf.compat.v1): the `serve` meta graph among several, text protos, every signature listed
with its graph tensors, and any signature run by key."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from model_repo.errors import ArtifactError, InvalidArgument
from model_repo.formats.savedmodel import FORMAT, serving_tags, signature_defs
from model_repo.signature_defs import TensorInfo
from tests.integration.tfserving_models import VERSION_DIR, half_plus_three, half_plus_two

pytestmark = [
    pytest.mark.tensorflow,
    pytest.mark.skipif(
        importlib.util.find_spec("tensorflow") is None, reason="needs the tensorflow extra"
    ),
]


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("tf1")
    return {
        "two": half_plus_two(base) / VERSION_DIR,
        "three": half_plus_three(base) / VERSION_DIR,
    }


def _example(x: float) -> bytes:
    import tensorflow as tf

    feature = tf.train.Feature(float_list=tf.train.FloatList(value=[x]))
    example = tf.train.Example(features=tf.train.Features(feature={"x": feature}))
    return example.SerializeToString()


def test_every_signature_is_listed_with_its_graph_tensors(models: dict[str, Path]) -> None:
    found = signature_defs(models["two"])
    assert sorted(found) == [
        "classify_x2_to_y3",
        "classify_x_to_y",
        "regress_x2_to_y3",
        "regress_x_to_y",
        "regress_x_to_y2",
        "serving_default",
    ]
    regress = found["regress_x_to_y"]
    assert regress.method_name == "tensorflow/serving/regress"
    assert regress.inputs == (TensorInfo("inputs", "tf_example:0", "DT_STRING", None),)
    assert regress.outputs == (TensorInfo("outputs", "y:0", "DT_FLOAT", (-1, 1)),)
    assert regress.takes_examples() == "inputs"
    assert found["regress_x2_to_y3"].takes_examples() is None
    assert FORMAT.describe(models["two"]).to_dict()["inputs"] == [
        {"name": "x", "datatype": "FP32", "shape": [-1, 1]}
    ]


def test_the_serve_meta_graph_is_chosen_among_several(models: dict[str, Path]) -> None:
    assert serving_tags(models["three"]) == ["serve"]
    predictor = FORMAT.open(models["three"])
    try:
        y = predictor.predict({"x": np.array([1.0, 2.0, 5.0], np.float32)})["y"]
        assert y.shape == (3,) and y.tolist() == [3.5, 4.0, 5.5]  # TensorFlow's shapes
        regressed = predictor.predict_signature(
            "tensorflow/serving/regress",
            {"inputs": np.array([_example(1.0), _example(2.0)], dtype=object)},
        )
        assert regressed["outputs"].tolist() == [[3.5], [4.0]]
        with pytest.raises(InvalidArgument, match="no signature 'nope'"):
            predictor.predict_signature("nope", {})
    finally:
        predictor.close()


def test_a_text_proto_saved_model_is_read(models: dict[str, Path], tmp_path: Path) -> None:
    from google.protobuf import text_format
    from tensorflow.core.protobuf import saved_model_pb2

    copy = tmp_path / "pbtxt"
    shutil.copytree(models["two"], copy)
    proto = saved_model_pb2.SavedModel.FromString((copy / "saved_model.pb").read_bytes())
    (copy / "saved_model.pbtxt").write_text(text_format.MessageToString(proto))
    (copy / "saved_model.pb").unlink()
    assert sorted(signature_defs(copy)) == sorted(signature_defs(models["two"]))
    predictor = FORMAT.open(copy)
    try:
        assert predictor.predict({"x": np.array([[4.0]], np.float32)})["y"].tolist() == [[4.0]]
    finally:
        predictor.close()


def test_several_meta_graphs_none_tagged_serve_are_refused(tmp_path: Path) -> None:
    import tensorflow as tf

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as session:
        v1.Variable(1.0, name="v")
        session.run(v1.global_variables_initializer())
        builder = v1.saved_model.builder.SavedModelBuilder(str(tmp_path / "m"))
        builder.add_meta_graph_and_variables(session, ["train"])
        builder.add_meta_graph(["eval"])
        builder.save()
    with pytest.raises(ArtifactError, match=r"none is tagged 'serve'.*train; eval"):
        FORMAT.describe(tmp_path / "m")
