"""The ONNX format: describe a graph in V2 terms, serve it with the real onnxruntime, and
refuse what cannot be served with an ArtifactError that says why."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from model_repo import ArtifactError
from model_repo.formats import get_format
from tests.artifacts import write_tiny_onnx

FORMAT = get_format("onnx")


def _save(path: Path, nodes: list[Any], inputs: list[Any], outputs: list[Any]) -> Path:
    from onnx import helper, save

    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))
    return path


def test_describe_gives_v2_datatypes_and_free_dims(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    path = _save(
        tmp_path / "model.onnx",
        [helper.make_node("Identity", ["text"], ["same"]), helper.make_node("Not", ["b"], ["n"])],
        [
            helper.make_tensor_value_info("text", TensorProto.STRING, [None, 1]),
            helper.make_tensor_value_info("b", TensorProto.BOOL, ["batch", 3]),
        ],
        [
            helper.make_tensor_value_info("same", TensorProto.STRING, [None, 1]),
            helper.make_tensor_value_info("n", TensorProto.BOOL, [None, 3]),
        ],
    )
    signature = FORMAT.describe(path)
    assert signature.to_dict() == {
        "inputs": [
            {"name": "text", "datatype": "BYTES", "shape": [-1, 1]},
            {"name": "b", "datatype": "BOOL", "shape": [-1, 3]},
        ],
        "outputs": [
            {"name": "same", "datatype": "BYTES", "shape": [-1, 1]},
            {"name": "n", "datatype": "BOOL", "shape": [-1, 3]},
        ],
    }
    predictor = FORMAT.open(path)
    try:
        got = predictor.predict(
            {"text": np.array([["a"], ["b"]], dtype=object), "b": np.zeros((2, 3), dtype=bool)}
        )
    finally:
        predictor.close()
    assert got["same"].ravel().tolist() == ["a", "b"]
    assert got["n"].all()


def test_open_serves_any_batch_with_the_chosen_options(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    write_tiny_onnx(path, offset=2.0)
    for options in ({}, {"intra_op_threads": 1, "graph_optimization": "disable"}):
        predictor = FORMAT.open(path, options=options)
        try:
            for rows in (1, 7):
                x = np.arange(rows * 2, dtype=np.float32).reshape(rows, 2)
                np.testing.assert_array_equal(predictor.predict({"x": x})["y"], x + 2.0)
        finally:
            predictor.close()


def test_not_an_onnx_file(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(b"\xff\x00 definitely not protobuf")
    with pytest.raises(ArtifactError, match=r"model\.onnx is not a readable ONNX model"):
        FORMAT.describe(path)


def test_a_zipmap_output_is_refused_with_the_hint(tmp_path: Path) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(30, 2)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = to_onnx(LogisticRegression().fit(x, x[:, 0] > 0), x[:1])  # ZipMap on
    path = tmp_path / "model.onnx"
    path.write_bytes(graph.SerializeToString())
    with pytest.raises(
        ArtifactError,
        match=r"ONNX value 'output_probability' is a sequence_type, not a tensor "
        r"\(a ZipMap output\? convert with zipmap disabled\)",
    ):
        FORMAT.describe(path)


def test_a_graph_without_outputs(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])
    path = _save(tmp_path / "model.onnx", [], [x], [])
    with pytest.raises(ArtifactError, match="the ONNX graph declares no outputs"):
        FORMAT.describe(path)


def test_a_graph_onnxruntime_cannot_load(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    path = _save(
        tmp_path / "model.onnx",
        [helper.make_node("NoSuchOperator", ["x"], ["y"])],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
    )
    with pytest.raises(
        ArtifactError, match=r"onnxruntime cannot load model\.onnx: .*NoSuchOperator"
    ):
        FORMAT.open(path)


def test_an_unknown_optimization_level(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    write_tiny_onnx(path)
    with pytest.raises(
        ArtifactError, match="graph_optimization 'max' unknown; use one of disable, basic"
    ):
        FORMAT.open(path, options={"graph_optimization": "max"})
