"""Missing values in JSON, through a real server and real clients: null and the NaN /
Infinity tokens (what Python's json and tritonclient write) for numbers in V2 and TF Serving
bodies, null for strings where the runtime has a missing value (PMML), clear refusals where
it has none, and `modelport predict` sending blank CSV cells as missing."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from gateway.control.artifacts import import_artifact
from model_repo.repository import Repository
from tests.integration.models import identity_onnx
from tests.integration.servers import MODELPORT, ROOT, Server, running_server
from tests.model_repo.test_format_pmml import REGRESSOR

pytestmark = pytest.mark.xdist_group("gateway-missing-values")

# The regressor of tests/model_repo/test_format_pmml.py (price = 1 + 2 * size + 10 for red,
# 20 for blue), told to count a missing color as red and a missing size as 1.5.
PRICES = REGRESSOR.replace(
    '<MiningField name="color"/>', '<MiningField name="color" missingValueReplacement="red"/>'
).replace('<MiningField name="size"/>', '<MiningField name="size" missingValueReplacement="1.5"/>')


def _flags_onnx(path: Path) -> None:
    """y = x, except -1 where x is NaN and -2 where x is infinite: FP32 [-1, 2]."""
    from onnx import TensorProto, helper, save

    nodes = [
        helper.make_node("IsNaN", ["x"], ["nan"]),
        helper.make_node("IsInf", ["x"], ["inf"]),
        helper.make_node("Where", ["inf", "minus_two", "x"], ["finite"]),
        helper.make_node("Where", ["nan", "minus_one", "finite"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "flags",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        initializer=[
            helper.make_tensor("minus_one", TensorProto.FLOAT, [], [-1.0]),
            helper.make_tensor("minus_two", TensorProto.FLOAT, [], [-2.0]),
        ],
    )
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("missing")
    repo = Repository(folder / "repo")
    _flags_onnx(folder / "flags.onnx")
    import_artifact(repo, folder / "flags.onnx", "flags", "onnx")
    identity_onnx(folder / "types.onnx", ["INT64", "BYTES"], [None, 2])
    import_artifact(repo, folder / "types.onnx", "types", "onnx")
    if _has_pmml():
        (folder / "prices.pmml").write_text(PRICES, encoding="utf-8")
        import_artifact(repo, folder / "prices.pmml", "prices", "pmml")
    with running_server(repo.root, folder / "server.log") as running:
        yield running


def _has_pmml() -> bool:
    try:
        import jpmml_evaluator  # noqa: F401
    except ImportError:
        return False
    return True


def _infer(server: Server, model: str, body: str | dict[str, Any]) -> httpx.Response:
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx.post(f"{server.url}/v2/models/{model}/infer", content=content)


def _x(data: list[Any]) -> dict[str, Any]:
    return {
        "inputs": [{"name": "x", "datatype": "FP32", "shape": [len(data) // 2, 2], "data": data}]
    }


def test_v2_null_and_the_nan_and_infinity_tokens_are_missing_numbers(server: Server) -> None:
    # json.dumps writes NaN, Infinity and -Infinity as bare tokens, as Python clients send.
    body = json.dumps(_x([1.5, None, math.nan, math.inf, -math.inf, 2.0]))
    assert "NaN" in body and "-Infinity" in body
    answer = _infer(server, "flags", body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == [1.5, -1.0, -1.0, -2.0, -2.0, 2.0]


def test_tritonclient_json_tensors_with_nan_are_served(server: Server) -> None:
    import tritonclient.http as triton

    client = triton.InferenceServerClient(server.host_port)
    x = np.array([[np.nan, 3.0]], dtype=np.float32)
    tensor = triton.InferInput("x", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=False)
    wanted = [triton.InferRequestedOutput("y", binary_data=False)]
    result = client.infer("flags", [tensor], outputs=wanted)
    assert result.as_numpy("y").tolist() == [[-1.0, 3.0]]
    client.close()


def test_tf_serving_null_and_nan_tokens(server: Server) -> None:
    body = '{"instances": [[1.5, null], [NaN, -Infinity]]}'
    answer = httpx.post(f"{server.url}/v1/models/flags:predict", content=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] == [[1.5, -1.0], [-1.0, -2.0]]
    columns = httpx.post(f"{server.url}/v1/models/flags:predict", content='{"inputs": [[null, 4]]}')
    assert columns.json()["outputs"] == [[-1.0, 4.0]], columns.text


@pytest.mark.parametrize(
    ("body", "phrases"),
    [
        (
            {
                "inputs": [
                    {"name": "int64_in", "datatype": "INT64", "shape": [1, 2], "data": [1, None]},
                    {"name": "bytes_in", "datatype": "BYTES", "shape": [1, 2], "data": ["a", "b"]},
                ]
            },
            ("input 'int64_in'", "INT64 has no missing value", "FP16, FP32 and FP64"),
        ),
        (
            {
                "inputs": [
                    {"name": "int64_in", "datatype": "INT64", "shape": [1, 2], "data": [1, 2]},
                    {"name": "bytes_in", "datatype": "BYTES", "shape": [1, 2], "data": ["a", None]},
                ]
            },
            ("input 'bytes_in'", "null (a missing string) is not taken", "only PMML"),
        ),
        (
            {
                "inputs": [
                    {"name": "int64_in", "datatype": "INT64", "shape": [1, 2], "data": [1, 2]},
                    {"name": "bytes_in", "datatype": "BYTES", "shape": [1, 2], "data": ["a", 7]},
                ]
            },
            ("input 'bytes_in'", "must be strings or null", "got 7"),
        ),
    ],
)
def test_a_null_where_the_runtime_has_no_missing_value_is_a_400_naming_it(
    server: Server, body: dict[str, Any], phrases: tuple[str, ...]
) -> None:
    answer = _infer(server, "types", body)
    assert answer.status_code == 400, answer.text
    for phrase in phrases:
        assert phrase in answer.json()["error"]


def test_tf_serving_null_for_an_integer_or_an_onnx_string_is_a_400(server: Server) -> None:
    url = f"{server.url}/v1/models/types:predict"
    ints = httpx.post(url, json={"instances": [{"int64_in": [1, None], "bytes_in": ["a", "b"]}]})
    assert ints.status_code == 400 and "INT64 has no missing value" in ints.json()["error"]
    text = httpx.post(url, json={"instances": [{"int64_in": [1, 2], "bytes_in": [None, "b"]}]})
    assert text.status_code == 400 and "missing string" in text.json()["error"], text.text


@pytest.mark.pmml
def test_pmml_takes_null_strings_and_numbers_as_missing(server: Server) -> None:
    def price(color: Any, size: Any, how: str) -> float:
        if how == "v2":
            inputs = [
                {"name": "color", "datatype": "BYTES", "shape": [1, 1], "data": [color]},
                {"name": "size", "datatype": "FP32", "shape": [1, 1], "data": [size]},
            ]
            answer = _infer(server, "prices", {"inputs": inputs})
            assert answer.status_code == 200, answer.text
            return float(answer.json()["outputs"][0]["data"][0])
        body = {"instances": [{"color": color, "size": size}]}
        answer = httpx.post(f"{server.url}/v1/models/prices:predict", json=body)
        assert answer.status_code == 200, answer.text
        return float(np.ravel(answer.json()["predictions"])[0])

    for how in ("v2", "tf"):
        assert price("blue", 2.0, how) == 25.0
        assert price(None, 2.0, how) == price("red", 2.0, how) == 15.0  # missing color: red
        assert price("blue", None, how) == price("blue", 1.5, how) == 24.0  # missing size: 1.5


def test_modelport_predict_sends_blank_csv_cells_as_missing(server: Server, tmp_path: Path):
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1.5,\n,2\n")
    done = subprocess.run(
        [*MODELPORT, "predict", "flags", "--url", server.url, "--data", str(rows)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outputs"]["y"] == [[1.5, -1.0], [-1.0, 2.0]]
    rows.write_text("a,b\n1.5,abc\n")
    bad = subprocess.run(
        [*MODELPORT, "predict", "flags", "--url", server.url, "--data", str(rows)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2, bad.stderr  # a usage error naming the cell, no traceback
    assert "'abc' is not a number (FP32)" in bad.stderr and "Traceback" not in bad.stderr
