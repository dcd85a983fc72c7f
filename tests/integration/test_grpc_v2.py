"""KServe V2 over gRPC through tritonclient.grpc, unchanged, against a real server: every
datatype raw and typed, metadata, config, readiness, the repository extension, statistics
and streamed inference, on ONNX, PMML and SavedModel models."""

from __future__ import annotations

import importlib.util
import queue
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2
from tritonclient.utils import InferenceServerException

from tests.integration.models import (
    IRIS_COLUMNS,
    ONNX_TYPES,
    Sources,
    identity_onnx,
    iris_rows,
    keras_dense,
    sample_of,
    upload,
)
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-grpc-v2")
needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="PMML needs Java")
needs_tf = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None, reason="needs the tensorflow extra"
)
ADMIN = {"authorization": "Bearer test-admin-token"}
TYPED = [d for d in ONNX_TYPES if d != "FP16"]  # FP16 has no typed field: raw only


@pytest.fixture(scope="module")
def server(
    repo_copy: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    from gateway.control.artifacts import import_artifact
    from model_repo.repository import Repository

    root = repo_copy("grpc-v2")
    folder = tmp_path_factory.mktemp("grpc-v2-models")
    identity_onnx(folder / "typed.onnx", TYPED, [None, 2])  # every typed contents field
    import_artifact(Repository(root), folder / "typed.onnx", "typed", "onnx")
    log = folder / "server.log"
    with running_server(root, log, grpc=True) as running:
        yield running


def inputs_of(arrays: dict[str, np.ndarray], datatypes: dict[str, str]) -> list[Any]:
    found = []
    for name, array in arrays.items():
        tensor = triton.InferInput(name, list(array.shape), datatypes[name])
        tensor.set_data_from_numpy(array)
        found.append(tensor)
    return found


def iris_columns(rows: np.ndarray) -> list[Any]:
    arrays = {c: rows[:, [i]] for i, c in enumerate(IRIS_COLUMNS)}
    return inputs_of(arrays, dict.fromkeys(IRIS_COLUMNS, "FP32"))


def test_health_and_server_metadata(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live() and client.is_server_ready()
    metadata = client.get_server_metadata(as_json=True)
    assert metadata["name"] == "modelport"
    assert "model_repository" in metadata["extensions"]


def test_every_datatype_raw_as_tritonclient_sends_it(client: triton.InferenceServerClient) -> None:
    arrays = {f"{d.lower()}_in": sample_of(d) for d in ONNX_TYPES}
    arrays["bytes_in"] = arrays["bytes_in"].astype(np.object_)
    result = client.infer("types", inputs_of(arrays, {f"{d.lower()}_in": d for d in ONNX_TYPES}))
    assert result.get_response().model_version == "1"
    for datatype in ONNX_TYPES:
        name = datatype.lower()
        got = result.as_numpy(f"{name}_out")
        sent = arrays[f"{name}_in"]
        if datatype == "BYTES":
            got = np.vectorize(lambda b: b.decode())(got)
        np.testing.assert_array_equal(got, sent)
        assert got.dtype == sent.dtype or datatype == "BYTES"


def test_every_datatype_in_typed_contents(stub: Any) -> None:
    request = service_pb2.ModelInferRequest(model_name="typed")
    for datatype in TYPED:
        array = sample_of(datatype)
        tensor = request.inputs.add(name=f"{datatype.lower()}_in", datatype=datatype, shape=[2, 2])
        field = {
            "BOOL": "bool", "INT8": "int", "INT16": "int", "INT32": "int", "INT64": "int64",
            "UINT8": "uint", "UINT16": "uint", "UINT32": "uint", "UINT64": "uint64",
            "FP32": "fp32", "FP64": "fp64", "BYTES": "bytes",
        }[datatype]  # fmt: skip
        values = [v.encode() for v in array.flat] if datatype == "BYTES" else array.ravel().tolist()
        getattr(tensor.contents, f"{field}_contents").extend(values)
        request.outputs.add(name=f"{datatype.lower()}_out")
    response = stub.ModelInfer(request)
    read = triton.InferResult(response)
    for output in response.outputs:
        datatype = output.datatype
        expected = sample_of(datatype)
        got = read.as_numpy(output.name)
        if datatype == "BYTES":
            got = np.vectorize(lambda b: b.decode())(got)
        np.testing.assert_array_equal(got, expected)
    assert len(response.outputs) == len(TYPED)


def test_model_metadata_config_and_readiness(client: triton.InferenceServerClient) -> None:
    metadata = client.get_model_metadata("iris", "stable", as_json=True)
    assert metadata["platform"] == "onnx_onnxv1"
    assert [i["name"] for i in metadata["inputs"]] == IRIS_COLUMNS
    assert metadata["inputs"][0] == {
        "name": "sepal_length",
        "datatype": "FP32",
        "shape": ["-1", "1"],
    }
    config = client.get_model_config("iris", as_json=True)["config"]
    assert config["backend"] == "onnxruntime" and config.get("max_batch_size", 0) == 0
    assert config["input"][0] == {
        "name": "sepal_length",
        "data_type": "TYPE_FP32",
        "dims": ["-1", "1"],
    }
    assert config["parameters"]["labels"]["string_value"] == "[0, 1, 2]"
    assert client.is_model_ready("iris") and client.is_model_ready("iris", "canary")
    assert not client.is_model_ready("iris", "9")
    assert not client.is_model_ready("no_such_model")
    assert not client.is_model_ready("broken")


def test_responses_name_the_version_that_served(
    client: triton.InferenceServerClient, sources: Sources
) -> None:
    stable = client.infer("iris", iris_columns(iris_rows(sources, 2)))
    assert stable.get_response().model_version == "1"  # the stable alias
    rows = iris_rows(sources, 2)
    canary = client.infer("iris", inputs_of({"input": rows}, {"input": "FP32"}), "canary")
    assert canary.get_response().model_version == "2"
    assert canary.as_numpy("probabilities").shape == (2, 3)


def test_onnx_answers_like_the_source(
    client: triton.InferenceServerClient, sources: Sources
) -> None:
    rows = iris_rows(sources)
    result = client.infer("iris", iris_columns(rows), request_id="r-7")
    assert result.get_response().id == "r-7"
    assert_like_the_column_model(result, sources, len(rows), rtol=1e-5)


def test_repository_index_load_and_unload(client: triton.InferenceServerClient) -> None:
    index = {
        (m["name"], m.get("version")): m
        for m in client.get_model_repository_index(as_json=True)["models"]
    }
    assert index[("iris_array", "1")]["state"] == "READY"
    assert index[("broken", "1")]["state"] == "FAILED"
    assert "sha256" in index[("broken", "1")]["reason"]
    with pytest.raises(InferenceServerException, match=r"UNAUTHENTICATED.*metadata"):
        client.unload_model("iris_array")
    client.unload_model("iris_array", headers=ADMIN)
    assert not client.is_model_ready("iris_array")
    client.load_model("iris_array", headers=ADMIN)
    assert client.is_model_ready("iris_array")


def test_statistics_count_each_version(
    client: triton.InferenceServerClient, sources: Sources
) -> None:
    def served(version: str) -> int:
        stats = client.get_inference_statistics("iris", version, as_json=True)["model_stats"]
        return int(stats[0].get("inference_count", 0))

    before = served("1")
    for _ in range(3):
        client.infer("iris", iris_columns(iris_rows(sources, 1)))
    assert served("1") == before + 3
    every = client.get_inference_statistics("", as_json=True)["model_stats"]
    assert ("iris", "1") in {(s["name"], s["version"]) for s in every}


def test_streamed_inference_answers_each_request(
    client: triton.InferenceServerClient, sources: Sources
) -> None:
    answers: queue.Queue[tuple[Any, Any]] = queue.Queue()
    client.start_stream(callback=lambda result, error: answers.put((result, error)))
    try:
        rows = iris_rows(sources, 1)
        client.async_stream_infer("iris", iris_columns(rows), request_id="s-1")
        client.async_stream_infer(
            "iris", inputs_of({"input": rows}, {"input": "FP32"}), request_id="s-2"
        )
        client.async_stream_infer(
            "iris", iris_columns(rows), model_version="canary", request_id="s-3"
        )
        got = [answers.get(timeout=30) for _ in range(3)]
    finally:
        client.stop_stream()
    first, second, third = got
    assert first[1] is None and first[0].get_response().model_version == "1"
    assert first[0].get_response().id == "s-1"
    assert second[0] is None and "'input'" in str(second[1])  # not an input of v1: in-band
    assert third[0] is None and "'sepal_length'" in str(third[1])  # v2 takes 'input'


def assert_like_the_column_model(result: Any, sources: Sources, rows: int, rtol: float) -> None:
    frame = sources.iris_x.iloc[::30].head(rows)
    np.testing.assert_array_equal(result.as_numpy("label"), sources.columns_model.predict(frame))
    np.testing.assert_allclose(
        result.as_numpy("probabilities"),
        sources.columns_model.predict_proba(frame),
        rtol=rtol,
        atol=1e-6,
    )


@pytest.mark.pmml
@needs_java
def test_pmml_over_grpc(
    server: Server, client: triton.InferenceServerClient, sources: Sources
) -> None:
    manifest = upload(server.url, server.admin_token, "iris_pmml", sources.columns_file, to="pmml")
    assert manifest["format"] == "pmml"
    rows = iris_rows(sources)
    result = client.infer("iris_pmml", iris_columns(rows))
    assert_like_the_column_model(result, sources, len(rows), rtol=1e-6)
    assert client.get_model_metadata("iris_pmml", as_json=True)["platform"] == "pmml"
    assert client.get_model_config("iris_pmml", as_json=True)["config"]["backend"] == "jpmml"


@pytest.mark.tensorflow
@needs_tf
def test_savedmodel_over_grpc(
    server: Server, client: triton.InferenceServerClient, tmp_path: Path
) -> None:
    model = keras_dense(tmp_path / "dense.keras")
    manifest = upload(
        server.url, server.admin_token, "dense", tmp_path / "dense.keras", to="savedmodel"
    )
    (spec,) = manifest["signature"]["inputs"]
    rows = np.random.default_rng(6).standard_normal((4, 4)).astype(np.float32)
    result = client.infer("dense", inputs_of({spec["name"]: rows}, {spec["name"]: "FP32"}))
    (output,) = manifest["signature"]["outputs"]
    np.testing.assert_allclose(
        result.as_numpy(output["name"]), np.asarray(model(rows)), rtol=1e-5, atol=1e-6
    )
    assert client.get_model_metadata("dense", as_json=True)["platform"] == "tensorflow_savedmodel"
