"""Small real artifacts and models for tests (built with the real libraries, not faked)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from model_repo.manifest import Manifest, Provenance
from model_repo.repository import Repository
from model_repo.signature import Signature, TensorSpec


def write_tiny_onnx(path: Path, offset: float = 1.0) -> Signature:
    """An ONNX graph computing y = x + offset on x: FP32 [-1, 2]."""
    from onnx import TensorProto, helper, save

    node = helper.make_node("Add", ["x", "offset"], ["y"])
    graph = helper.make_graph(
        [node],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[helper.make_tensor("offset", TensorProto.FLOAT, [1], [offset])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))
    return Signature.of([TensorSpec("x", "FP32", (-1, 2))], [TensorSpec("y", "FP32", (-1, 2))])


LOOKUP_TABLE = [10.0, 11.0, 12.0, 13.0, 14.0]


def write_lookup_onnx(path: Path, offset: float = 0.0) -> Signature:
    """y = LOOKUP_TABLE[i] for INT64 indices i [-1]: an index past the table fails at run time."""
    from onnx import TensorProto, helper, save

    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "i"], ["y"])],
        "lookup",
        [helper.make_tensor_value_info("i", TensorProto.INT64, [None])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
        initializer=[
            helper.make_tensor("table", TensorProto.FLOAT, [len(LOOKUP_TABLE)], LOOKUP_TABLE)
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    save(model, str(path))
    return Signature.of([TensorSpec("i", "INT64", (-1,))], [TensorSpec("y", "FP32", (-1,))])


def publish_tiny(
    repo: Repository,
    name: str,
    offset: float = 1.0,
    write: Callable[[Path, float], Signature] = write_tiny_onnx,
    version: int | None = None,
) -> Manifest:
    """Publish an ONNX version the way converters do: stage, `write` the graph, publish
    (as `version` if given, else as the next number)."""
    with repo.stage(name, version) as staging:
        signature = write(staging.path / "model.onnx", offset)
        draft = Manifest(
            name=name,
            format="onnx",
            artifact="model.onnx",
            signature=signature,
            provenance=Provenance(framework="onnx"),
            notes={"offset": offset},
        )
        return staging.publish(draft)


def onnx_backend_case(name: str) -> tuple[Path, list[Any], list[Any]]:
    """A model of the ONNX project's backend tests (`test_AvgPool2d` ...), shipped in the onnx
    package, with the inputs and expected outputs of its first test data set."""
    import onnx
    from onnx import TensorProto, numpy_helper

    data = Path(onnx.__file__).parent / "backend" / "test" / "data"
    folder = next(data.glob(f"*/{name}"))

    def arrays(prefix: str) -> list[Any]:
        found = []
        for file in sorted((folder / "test_data_set_0").glob(f"{prefix}_*.pb")):
            tensor = TensorProto()
            tensor.ParseFromString(file.read_bytes())
            found.append(numpy_helper.to_array(tensor))
        return found

    return folder / "model.onnx", arrays("input"), arrays("output")
