"""Open Inference Protocol (V2) end to end: tritonclient.http and httpx against a real server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.integration.load import metric
from tests.integration.models import IRIS_COLUMNS, ONNX_TYPES, Sources, iris_rows, sample_of
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-v2")


@pytest.fixture(scope="module")
def server(
    repo_copy: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("v2-log") / "server.log"
    with running_server(repo_copy("v2"), log) as running:
        yield running


@pytest.fixture(scope="module")
def triton(server: Server):
    import tritonclient.http as triton_http

    client = triton_http.InferenceServerClient(server.host_port)
    yield client
    client.close()


def _triton_inputs(arrays: dict[str, np.ndarray], datatypes: dict[str, str], binary: bool):
    import tritonclient.http as triton_http

    inputs = []
    for name, array in arrays.items():
        tensor = triton_http.InferInput(name, list(array.shape), datatypes[name])
        tensor.set_data_from_numpy(array, binary_data=binary)
        inputs.append(tensor)
    return inputs


def test_server_metadata_and_health(triton) -> None:
    assert triton.is_server_live() and triton.is_server_ready()
    metadata = triton.get_server_metadata()
    assert metadata["name"] == "modelport"
    assert {"binary_tensor_data", "model_repository"} <= set(metadata["extensions"])


def test_model_metadata_in_triton_shape(triton) -> None:
    columns = triton.get_model_metadata("iris")  # the stable alias: version 1
    assert columns == {
        "name": "iris",
        "versions": ["1", "2"],
        "platform": "onnx_onnxv1",
        "inputs": [{"name": c, "datatype": "FP32", "shape": [-1, 1]} for c in IRIS_COLUMNS],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]},
        ],
        "parameters": {"labels": [0, 1, 2]},  # the class of each probabilities column
    }
    by_alias = triton.get_model_metadata("iris", model_version="canary")
    assert by_alias == triton.get_model_metadata("iris", model_version="2")
    assert by_alias["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, 4]}]


def test_tritonclient_binary_defaults_match_the_source(triton, sources: Sources) -> None:
    rows = iris_rows(sources)
    inputs = _triton_inputs({"input": rows}, {"input": "FP32"}, True)
    result = triton.infer("iris_array", inputs, request_id="bin-3")
    response = result.get_response()
    assert response["model_version"] == "1" and response["id"] == "bin-3"
    assert all("binary_data_size" in out["parameters"] for out in response["outputs"])
    np.testing.assert_array_equal(result.as_numpy("label"), sources.array_model.predict(rows))
    np.testing.assert_allclose(
        result.as_numpy("probabilities"), sources.array_model.predict_proba(rows), atol=1e-5
    )


def test_tritonclient_json_one_input_per_column(triton, sources: Sources) -> None:
    import tritonclient.http as triton_http

    rows = iris_rows(sources)
    columns = {c: rows[:, [i]] for i, c in enumerate(IRIS_COLUMNS)}
    outputs = [
        triton_http.InferRequestedOutput(n, binary_data=False) for n in ("label", "probabilities")
    ]
    result = triton.infer(
        "iris",
        _triton_inputs(columns, dict.fromkeys(IRIS_COLUMNS, "FP32"), False),
        outputs=outputs,
        request_id="req-7",
    )
    response = result.get_response()
    assert response["id"] == "req-7" and response["model_version"] == "1"
    assert "data" in response["outputs"][0]
    frame = sources.iris_x.iloc[::30].head(len(rows))
    np.testing.assert_array_equal(result.as_numpy("label"), sources.columns_model.predict(frame))
    np.testing.assert_allclose(
        result.as_numpy("probabilities"), sources.columns_model.predict_proba(frame), atol=1e-5
    )


def test_gzip_compressed_request(triton, sources: Sources) -> None:
    rows = iris_rows(sources)
    inputs = _triton_inputs({"input": rows}, {"input": "FP32"}, True)
    result = triton.infer("iris_array", inputs, request_compression_algorithm="gzip")
    np.testing.assert_array_equal(result.as_numpy("label"), sources.array_model.predict(rows))


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_every_datatype_round_trips(triton, binary: bool) -> None:
    import tritonclient.http as triton_http

    arrays = {f"{t.lower()}_in": sample_of(t) for t in ONNX_TYPES}
    datatypes = {f"{t.lower()}_in": t for t in ONNX_TYPES}
    outputs = [triton_http.InferRequestedOutput(f"{t.lower()}_out", binary) for t in ONNX_TYPES]
    result = triton.infer("types", _triton_inputs(arrays, datatypes, binary), outputs=outputs)
    for datatype in ONNX_TYPES:
        got = result.as_numpy(f"{datatype.lower()}_out")
        sent = arrays[f"{datatype.lower()}_in"]
        if datatype == "BYTES":
            decoded = [v.decode() if isinstance(v, bytes) else v for v in got.ravel()]
            assert decoded == list(sent.ravel()), datatype
        else:
            assert got.dtype == sent.dtype, datatype
            np.testing.assert_array_equal(got, sent, err_msg=datatype)


def test_httpx_flat_and_nested_data_and_output_subset(server: Server, sources: Sources) -> None:
    rows = iris_rows(sources, 2)
    flat = {"name": "input", "datatype": "FP32", "shape": [2, 4], "data": rows.ravel().tolist()}
    nested = {**flat, "data": rows.tolist()}
    answers = []
    for tensor in (flat, nested):
        response = httpx.post(
            f"{server.url}/v2/models/iris_array/infer",
            json={"id": "x", "inputs": [tensor], "outputs": [{"name": "probabilities"}]},
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    assert answers[0] == answers[1]
    body = answers[0]
    assert body["model_name"] == "iris_array" and body["id"] == "x"
    assert [o["name"] for o in body["outputs"]] == ["probabilities"]
    assert body["outputs"][0]["shape"] == [2, 3] and len(body["outputs"][0]["data"]) == 6


def test_column_inputs_take_flat_vectors(server: Server, sources: Sources) -> None:
    rows = iris_rows(sources, 3)
    inputs = [
        {"name": c, "datatype": "FP32", "shape": [3], "data": rows[:, i].tolist()}
        for i, c in enumerate(IRIS_COLUMNS)
    ]
    response = httpx.post(f"{server.url}/v2/models/iris/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    frame = sources.iris_x.iloc[::30].head(3)
    assert response.json()["outputs"][0]["data"] == sources.columns_model.predict(frame).tolist()


@pytest.mark.parametrize(
    ("path", "version"),
    [
        ("iris", "1"),
        ("iris/versions/1", "1"),
        ("iris/versions/2", "2"),
        ("iris/versions/canary", "2"),
        ("iris/versions/stable", "1"),
    ],
)
def test_version_by_number_or_alias(
    server: Server, sources: Sources, path: str, version: str
) -> None:
    rows = iris_rows(sources, 1)
    if version == "1":
        inputs = [
            {"name": c, "datatype": "FP32", "shape": [1, 1], "data": [float(rows[0, i])]}
            for i, c in enumerate(IRIS_COLUMNS)
        ]
    else:
        inputs = [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": rows[0].tolist()}]
    response = httpx.post(f"{server.url}/v2/models/{path}/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    assert response.json()["model_version"] == version


def test_model_readiness(triton) -> None:
    assert triton.is_model_ready("iris")
    assert triton.is_model_ready("iris", "canary")
    assert not triton.is_model_ready("iris", "7")
    assert not triton.is_model_ready("nope")
    assert not triton.is_model_ready("broken")


def test_index_reports_the_broken_model_while_others_serve(triton, server: Server) -> None:
    index = {entry["name"]: entry for entry in triton.get_model_repository_index()}
    assert index["broken"]["state"] == "FAILED"
    assert "modified after publishing" in index["broken"]["reason"]
    assert index["iris_array"]["state"] == "READY"
    ready = httpx.post(f"{server.url}/v2/repository/index", json={"ready": True}).json()
    assert "broken" not in {entry["name"] for entry in ready}
    response = httpx.post(
        f"{server.url}/v2/models/broken/infer",
        json={
            "inputs": [{"name": "input", "datatype": "FP32", "shape": [1, 4], "data": [1, 2, 3, 4]}]
        },
    )
    assert response.status_code == 503
    assert "failed to load" in response.json()["error"]


def test_unload_and_load_through_tritonclient(triton, server: Server) -> None:
    request = {"inputs": [{"name": "bytes_in", "datatype": "BYTES", "shape": [1], "data": ["hi"]}]}
    triton.unload_model("echo", headers=server.admin)
    gone = httpx.post(f"{server.url}/v2/models/echo/infer", json=request)
    assert gone.status_code == 404 and "unloaded" in gone.json()["error"]
    assert not triton.is_model_ready("echo")
    triton.load_model("echo", headers=server.admin)
    back = httpx.post(f"{server.url}/v2/models/echo/infer", json=request)
    assert back.status_code == 200 and back.json()["outputs"][0]["data"] == ["hi"]


def test_metrics_by_model_and_version(server: Server, sources: Sources) -> None:
    """Each request counted once, under the version that served it (alias resolved)."""
    rows = iris_rows(sources, 1)
    tensor = {"name": "input", "datatype": "FP32", "shape": [1, 4], "data": rows[0].tolist()}
    names = (
        "modelport_inference_requests_total",
        "modelport_inference_failures_total",
        "modelport_inference_duration_seconds_count",
    )

    def counts() -> dict[tuple[str, str], float]:
        text = httpx.get(f"{server.url}/metrics").text
        return {
            (name, version): metric(text, name, model="iris", version=version)
            for name in names
            for version in ("1", "2")
        }

    before = counts()
    for path in ("iris/versions/2", "iris/versions/canary"):  # two served by version 2
        ok = httpx.post(f"{server.url}/v2/models/{path}/infer", json={"inputs": [tensor]})
        assert ok.status_code == 200, ok.text
    bad = httpx.post(
        f"{server.url}/v2/models/iris/versions/2/infer",
        json={"inputs": [{**tensor, "shape": [1, 3]}]},
    )
    assert bad.status_code == 400, bad.text
    tf = httpx.post(
        f"{server.url}/v1/models/iris/labels/canary:predict", json={"instances": [rows[0].tolist()]}
    )
    assert tf.status_code == 200, tf.text
    after = counts()
    delta = {key: after[key] - before[key] for key in before}
    assert delta == {
        ("modelport_inference_requests_total", "1"): 0,
        ("modelport_inference_requests_total", "2"): 4,
        ("modelport_inference_failures_total", "1"): 0,
        ("modelport_inference_failures_total", "2"): 1,
        ("modelport_inference_duration_seconds_count", "1"): 0,
        ("modelport_inference_duration_seconds_count", "2"): 3,
    }
    text = httpx.get(f"{server.url}/metrics").text
    assert 'modelport_inference_failures_total{model="iris",status="400",version="2"}' in text
    assert 'modelport_inference_duration_seconds_bucket{le="+Inf",model="iris",version="2"}' in text
    assert 'modelport_model_version_state{model="broken",state="FAILED",version="1"} 1.0' in text
    assert 'modelport_model_version_state{model="iris",state="READY",version="1"} 1.0' in text
    assert 'modelport_model_version_state{model="iris",state="READY",version="2"} 1.0' in text


def test_openapi_documents_every_endpoint(server: Server) -> None:
    assert httpx.get(f"{server.url}/docs").status_code == 200
    paths = httpx.get(f"{server.url}/openapi.json").json()["paths"]
    for path in (
        "/v2/models/{model}/versions/{version}/infer",
        "/v2/repository/models/{model}/versions",
        "/v1/models/{model}:predict",
        "/metrics",
    ):
        assert path in paths, path
