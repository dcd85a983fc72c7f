"""TF Serving's own REST expectations, replayed with httpx against a real modelport serve.

The models are TF Serving's half_plus_two and half_plus_three, rebuilt as TF1 SavedModels
(tests/integration/tfserving_models.py) and imported with their version number (123). Each
expectation is quoted from where TF Serving states it:
- HANDLER: tensorflow_serving/model_servers/http_rest_api_handler_test.cc (half_plus_two);
- SERVER: tensorflow_serving/model_servers/tensorflow_model_server_test.py (half_plus_two);
- DOCS: tensorflow_serving/g3doc/api_rest.md, "Example" (half_plus_three);
- METADATA: tensorflow_serving/servables/tensorflow/testdata/
  saved_model_half_plus_two_2_versions_metadata.json.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.peer_repo import HALF_PLUS_THREE, HALF_PLUS_TWO, PEER_MARKS, post_v1
from tests.integration.servers import Server

pytestmark = PEER_MARKS


@pytest.mark.parametrize(
    ("path", "body", "answer"),
    [
        # DOCS: curl -d '{"instances": [1.0,2.0,5.0]}' .../saved_model_half_plus_three:predict
        (
            f"{HALF_PLUS_THREE}:predict",
            {"instances": [1.0, 2.0, 5.0]},
            {"predictions": [3.5, 4.0, 5.5]},
        ),
        # the issue's case: half_plus_two answers one number per instance, not [[2.5], ...]
        (
            f"{HALF_PLUS_TWO}:predict",
            {"instances": [1.0, 2.0, 5.0]},
            {"predictions": [2.5, 3.0, 4.5]},
        ),
        # SERVER testPredictREST and testPredictColumnarREST
        (
            f"{HALF_PLUS_TWO}:predict",
            {"instances": [2.0, 3.0, 4.0]},
            {"predictions": [3.0, 3.5, 4.0]},
        ),
        (f"{HALF_PLUS_TWO}:predict", {"inputs": [2.0, 3.0, 4.0]}, {"outputs": [3.0, 3.5, 4.0]}),
        # HANDLER Predict: rows of two, TensorFlow's shapes, not a [-1, 1] check
        (
            f"{HALF_PLUS_TWO}:predict",
            {"instances": [[1.0, 2.0], [3.0, 4.0]]},
            {"predictions": [[2.5, 3.0], [3.5, 4.0]]},
        ),
        (
            f"{HALF_PLUS_TWO}/versions/123:predict",
            {"instances": [1.0, 2.0]},
            {"predictions": [2.5, 3.0]},
        ),
        (
            f"{HALF_PLUS_TWO}/versions/123:predict",
            {"signature_name": "serving_default", "instances": [3.0, 4.0]},
            {"predictions": [3.5, 4.0]},
        ),
        (
            f"{HALF_PLUS_TWO}/versions/123:predict",
            {"signature_name": "serving_default", "inputs": [3.0, 4.0]},
            {"outputs": [3.5, 4.0]},
        ),
        # predict on another signature (y3 = 0.5 * x2 + 3), by its keys
        (
            f"{HALF_PLUS_TWO}:predict",
            {"signature_name": "regress_x2_to_y3", "inputs": {"inputs": [[1.0], [2.0]]}},
            {"outputs": [[3.5], [4.0]]},
        ),
    ],
)
def test_predict_answers_as_tf_serving(peer: Server, path: str, body: Any, answer: Any) -> None:
    response = post_v1(peer, path, body)
    assert response.status_code == 200, response.text
    assert response.json() == answer
    assert response.headers["x-modelport-model-version"] == "123"


@pytest.mark.parametrize(
    ("path", "body", "answer"),
    [
        # DOCS: the regress call of half_plus_three, on the signature named by its method
        (
            f"{HALF_PLUS_THREE}:regress",
            {"signature_name": "tensorflow/serving/regress", "examples": [{"x": 1.0}, {"x": 2.0}]},
            {"results": [3.5, 4.0]},
        ),
        # HANDLER Regress and Classify
        (
            f"{HALF_PLUS_TWO}:regress",
            {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]},
            {"results": [42]},
        ),
        (
            f"{HALF_PLUS_TWO}/versions/123:regress",
            {"signature_name": "regress_x_to_y", "examples": [{"x": 80.0}]},
            {"results": [42]},
        ),
        (
            f"{HALF_PLUS_TWO}:classify",
            {"signature_name": "classify_x_to_y", "examples": [{"x": 20.0}]},
            {"results": [[["", 12]]]},
        ),
        (
            f"{HALF_PLUS_TWO}/versions/123:classify",
            {"signature_name": "classify_x_to_y", "examples": [{"x": 10.0}]},
            {"results": [[["", 7]]]},
        ),
        # SERVER testClassifyREST and testRegressREST
        (
            f"{HALF_PLUS_TWO}:classify",
            {"signature_name": "classify_x_to_y", "examples": [{"x": 2.0}]},
            {"results": [[["", 3.0]]]},
        ),
        (
            f"{HALF_PLUS_TWO}:regress",
            {"signature_name": "regress_x_to_y", "examples": [{"x": 2.0}]},
            {"results": [3.0]},
        ),
        # context shared by every example (y2 = 0.5 * x + 3; x2 is not read by y2)
        (
            f"{HALF_PLUS_TWO}:regress",
            {
                "signature_name": "regress_x_to_y2",
                "context": {"x2": 7.0},
                "examples": [{"x": 2.0}, {"x": 4.0}],
            },
            {"results": [4.0, 5.0]},
        ),
    ],
)
def test_classify_and_regress_answer_as_tf_serving(
    peer: Server, path: str, body: Any, answer: Any
) -> None:
    response = post_v1(peer, path, body)
    assert response.status_code == 200, response.text
    assert response.json() == answer


def test_metadata_lists_every_signature_as_tf_serving_writes_it(peer: Server) -> None:
    response = httpx.get(f"{peer.url}/v1/models/{HALF_PLUS_TWO}/metadata")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "model_spec": {"name": HALF_PLUS_TWO, "signature_name": "", "version": "123"},
        "metadata": {"signature_def": {"signature_def": METADATA_SIGNATURES}},
    }
    legacy = httpx.get(f"{peer.url}/v1/models/{HALF_PLUS_THREE}/versions/123/metadata").json()
    signatures = legacy["metadata"]["signature_def"]["signature_def"]
    assert sorted(signatures) == ["serving_default", "tensorflow/serving/regress"]


def test_status_answers_as_tf_serving(peer: Server) -> None:
    # SERVER testGetStatusREST; DOCS "Get status of the model"
    expected = {
        "model_version_status": [
            {
                "version": "123",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    for path in (HALF_PLUS_THREE, f"{HALF_PLUS_TWO}/versions/123"):
        assert httpx.get(f"{peer.url}/v1/models/{path}").json() == expected


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "phrase"),
    [
        # HANDLER UnsupportedApiCalls: InvalidArgument (400) "Malformed request" ...
        ("GET", "/v1/foo", None, 400, "Malformed request"),
        ("POST", "/v1/foo", None, 400, "Malformed request"),
        ("GET", "/v1/models", None, 400, "Missing model name"),
        ("POST", "/v1/models", None, 400, "Missing model name"),
        ("GET", "/v1/models/foo:predict", None, 400, "Malformed request"),
        ("GET", "/v1/models/foo/version/50:predict", None, 400, "Malformed request"),
        ("POST", "/v1/models/foo/version/50:regress", None, 400, "Malformed request"),
        ("POST", "/v1/models/foo/versions/HELLO:regress", None, 400, "not a number"),
        (
            "POST",
            f"/v1/models/foo/versions/{2**64 - 1}:regress",
            None,
            400,
            "Failed to convert version",
        ),
        # HANDLER PredictModelNameVersionErrors: NotFound (404); DOCS: .../half:predict is a 404
        ("POST", "/v1/models/half:predict", {"instances": [1.0, 5.0]}, 404, "unknown model 'half'"),
        ("POST", "/v1/models/foo/versions/50:predict", {"instances": [1]}, 404, "unknown model"),
        (
            "POST",
            f"/v1/models/{HALF_PLUS_TWO}/versions/99:predict",
            {"instances": [1]},
            404,
            "no version 99",
        ),
        # HANDLER PredictRequestErrors: an empty or malformed document is InvalidArgument
        ("POST", f"/v1/models/{HALF_PLUS_TWO}:predict", "", 400, "JSON"),
        ("POST", f"/v1/models/{HALF_PLUS_TWO}:predict", "instances = [1, 2]", 400, "JSON"),
        # an unknown label: InvalidArgument in TF Serving ("Unrecognized servable version label")
        (
            "POST",
            f"/v1/models/{HALF_PLUS_TWO}/labels/nope:predict",
            {"instances": [1.0]},
            400,
            "nope",
        ),
        ("GET", f"/v1/models/{HALF_PLUS_TWO}/labels/nope", None, 400, "no label 'nope'"),
        ("GET", f"/v1/models/{HALF_PLUS_TWO}/labels/nope/metadata", None, 400, "no alias 'nope'"),
        # classify / regress where the signature cannot
        (
            "POST",
            f"/v1/models/{HALF_PLUS_TWO}:classify",
            {"examples": [{"x": 1.0}]},
            400,
            "cannot classify",
        ),
        (
            "POST",
            f"/v1/models/{HALF_PLUS_TWO}:regress",
            {"signature_name": "regress_x2_to_y3", "examples": [{"x2": 1.0}]},
            400,
            "not one DT_STRING input",
        ),
        (
            "POST",
            f"/v1/models/{HALF_PLUS_TWO}:regress",
            {"signature_name": "no", "examples": [{}]},
            400,
            "no signature 'no'",
        ),
        ("POST", f"/v1/models/{HALF_PLUS_TWO}:regress", {"examples": []}, 400, "non-empty list"),
    ],
)
def test_errors_answer_as_tf_serving(
    peer: Server, method: str, path: str, body: Any, status: int, phrase: str
) -> None:
    content = body if isinstance(body, str) else None
    json_body = None if isinstance(body, str) else body
    response = httpx.request(method, peer.url + path, json=json_body, content=content)
    assert response.status_code == status, response.text
    assert list(response.json()) == ["error"] and phrase in response.json()["error"], response.text


def test_no_v1_path_redirects(peer: Server) -> None:
    for path in ("/v1/models", "/v1/models/", f"/v1/models/{HALF_PLUS_TWO}/"):
        response = httpx.get(peer.url + path, follow_redirects=False)
        assert response.status_code == 400 and response.json()["error"], (path, response.text)


def _tensor(name: str, dtype: str, dims: list[int] | None) -> dict[str, Any]:
    shape = {"dim": [], "unknown_rank": True}
    if dims is not None:
        shape = {"dim": [{"size": str(d), "name": ""} for d in dims], "unknown_rank": False}
    return {"dtype": dtype, "tensor_shape": shape, "name": name}


def _signature(inputs: dict[str, Any], outputs: dict[str, Any], method: str) -> dict[str, Any]:
    return {
        "inputs": inputs,
        "outputs": outputs,
        "method_name": f"tensorflow/serving/{method}",
        "defaults": {},
    }


# METADATA, transcribed (its model_spec names TF Serving's test model; ours is ours).
EXAMPLES = {"inputs": _tensor("tf_example:0", "DT_STRING", None)}
METADATA_SIGNATURES = {
    "regress_x2_to_y3": _signature(
        {"inputs": _tensor("x2:0", "DT_FLOAT", [-1, 1])},
        {"outputs": _tensor("y3:0", "DT_FLOAT", [-1, 1])},
        "regress",
    ),
    "serving_default": _signature(
        {"x": _tensor("x:0", "DT_FLOAT", [-1, 1])},
        {"y": _tensor("y:0", "DT_FLOAT", [-1, 1])},
        "predict",
    ),
    "classify_x_to_y": _signature(
        EXAMPLES, {"scores": _tensor("y:0", "DT_FLOAT", [-1, 1])}, "classify"
    ),
    "classify_x2_to_y3": _signature(
        {"inputs": _tensor("x2:0", "DT_FLOAT", [-1, 1])},
        {"scores": _tensor("y3:0", "DT_FLOAT", [-1, 1])},
        "classify",
    ),
    "regress_x_to_y2": _signature(
        EXAMPLES, {"outputs": _tensor("y2:0", "DT_FLOAT", [-1, 1])}, "regress"
    ),
    "regress_x_to_y": _signature(
        EXAMPLES, {"outputs": _tensor("y:0", "DT_FLOAT", [-1, 1])}, "regress"
    ),
}
