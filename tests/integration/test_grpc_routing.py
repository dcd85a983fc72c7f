"""What gRPC metadata does, and how gRPC refuses: tokens, sticky split keys, releases and
their revisions, the metrics of each version, and bad requests mapped to their codes with
messages naming the input, through tritonclient.grpc and raw stubs on a real server."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import service_pb2
from tritonclient.utils import InferenceServerException

from model_repo.aliases import AliasTarget
from model_repo.repository import Repository
from tests.artifacts import publish_tiny
from tests.integration.load import metric
from tests.integration.servers import Server, running_server

pytestmark = pytest.mark.xdist_group("gateway-grpc-routing")
READER = "grpc-reader"
AS_READER = {"authorization": f"Bearer {READER}"}
Code = grpc.StatusCode


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("grpc-routing") / "repo"
    repo = Repository(root)
    publish_tiny(repo, "ab", 1.0)  # y = x + 1
    publish_tiny(repo, "ab", 2.0)  # y = x + 2
    repo.set_alias("ab", "stable", AliasTarget(version=1))
    repo.set_alias("ab", "canary", AliasTarget(weights=((1, 50), (2, 50))))
    repo.releases.set("pair", {"ab": 2})
    args = ("--inference-token", READER, "--max-body-mib", "1")
    log = root.parent / "server.log"
    with running_server(root, log, *args, grpc=True) as running:
        yield running


def x_input(rows: int = 1, datatype: str = "FP32", columns: int = 2) -> triton.InferInput:
    tensor = triton.InferInput("x", [rows, columns], datatype)
    dtype = {"FP32": np.float32, "FP64": np.float64, "BYTES": np.object_}[datatype]
    values = np.ones((rows, columns), dtype=dtype)
    tensor.set_data_from_numpy(
        values.astype(str).astype(np.object_) if datatype == "BYTES" else values
    )
    return tensor


def raw_request(**fields: Any) -> Any:
    request = service_pb2.ModelInferRequest(model_name="ab", **fields)
    request.inputs.add(name="x", datatype="FP32", shape=[1, 2])
    request.raw_input_contents.append(np.ones(2, np.float32).tobytes())
    return request


def refusal(call: Any) -> InferenceServerException:
    with pytest.raises(InferenceServerException) as caught:
        call()
    return caught.value


def test_inference_needs_the_token_health_does_not(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live()  # health stays open, as over HTTP
    missing = refusal(lambda: client.infer("ab", [x_input()]))
    assert missing.status() == "StatusCode.UNAUTHENTICATED"
    assert "missing 'Authorization: Bearer <token>' metadata" in missing.message()
    wrong = refusal(lambda: client.infer("ab", [x_input()], headers={"authorization": "Bearer no"}))
    assert wrong.status() == "StatusCode.UNAUTHENTICATED"
    served = client.infer("ab", [x_input()], headers=AS_READER)
    assert served.get_response().model_version == "1"
    admin_only = refusal(lambda: client.unload_model("ab", headers=AS_READER))
    assert "not the admin token" in admin_only.message()


@pytest.mark.skipif(
    importlib.util.find_spec("tensorflow_serving") is None, reason="needs tensorflow-serving-api"
)
def test_tf_serving_needs_the_token_too(server: Server) -> None:
    with grpc.insecure_channel(server.grpc_target) as channel:
        predict = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")
        with pytest.raises(grpc.RpcError) as caught:
            predict(b"\x0a\x04\x0a\x02ab")  # PredictRequest{model_spec{name: "ab"}}, by hand
    assert caught.value.code() == Code.UNAUTHENTICATED


def test_a_sticky_key_keeps_its_version_across_a_split(
    client: triton.InferenceServerClient,
) -> None:
    def version(key: str) -> str:
        headers = {**AS_READER, "x-modelport-key": key}
        response = client.infer("ab", [x_input()], "canary", headers=headers).get_response()
        return str(response.model_version)

    assert {version("user-7") for _ in range(20)} == {version("user-7")}
    assert {version(f"user-{i}") for i in range(40)} == {"1", "2"}


def test_a_release_is_chosen_by_metadata_and_names_its_revision(stub: Any) -> None:
    release = (("x-modelport-release", "pair"), *AS_READER.items())
    response, call = stub.ModelInfer.with_call(raw_request(), metadata=release)
    assert response.model_version == "2"
    assert response.parameters["release_revision"].int64_param == 1
    sent = dict(call.initial_metadata())
    assert (sent["x-modelport-release"], sent["x-modelport-release-revision"]) == ("pair", "1")
    pinned = (*release, ("x-modelport-release-revision", "1"))
    assert stub.ModelInfer(raw_request(), metadata=pinned).model_version == "2"
    with pytest.raises(grpc.RpcError) as caught:
        stub.ModelInfer(raw_request(), metadata=(*release, ("x-modelport-release-revision", "9")))
    assert caught.value.code() == Code.FAILED_PRECONDITION
    assert "has no revision 9" in caught.value.details()  # re-read first, then refused


@pytest.mark.parametrize(
    ("model", "version", "tensor", "code", "phrase"),
    [
        ("nope", "", {}, Code.NOT_FOUND, "unknown model 'nope'"),
        ("ab", "", {"columns": 3}, Code.INVALID_ARGUMENT, "input 'x': expected shape [-1, 2]"),
        (
            "ab",
            "",
            {"datatype": "BYTES"},
            Code.INVALID_ARGUMENT,
            "'x': expected datatype FP32, got",
        ),
        ("ab", "7", {}, Code.NOT_FOUND, "has no version 7"),
        ("ab", "", {"rows": 200_000}, Code.RESOURCE_EXHAUSTED, "larger than max"),
    ],
    ids=["unknown-model", "wrong-shape", "wrong-datatype", "unknown-version", "too-large"],
)
def test_bad_requests_get_their_codes_naming_the_input(
    client: triton.InferenceServerClient,
    model: str,
    version: str,
    tensor: dict[str, Any],
    code: Code,
    phrase: str,
) -> None:
    call = lambda: client.infer(model, [x_input(**tensor)], version, headers=AS_READER)  # noqa: E731
    refused = refusal(call)
    assert refused.status() == str(code)
    assert phrase in refused.message(), refused.message()


def test_metrics_count_grpc_calls_by_model_and_version(
    server: Server, client: triton.InferenceServerClient
) -> None:
    def counted(version: str, name: str = "modelport_inference_requests_total") -> float:
        text = httpx.get(server.url + "/metrics").text
        return metric(text, name, model="ab", version=version)

    before, failed = counted("2"), counted("2", "modelport_inference_failures_total")
    for _ in range(5):
        client.infer("ab", [x_input()], "2", headers=AS_READER)
    refusal(lambda: client.infer("ab", [x_input(columns=3)], "2", headers=AS_READER))
    assert counted("2") == before + 6
    assert counted("2", "modelport_inference_failures_total") == failed + 1
