"""V2 (JSON and binary) and TF Serving bodies, decoded and encoded without a server."""

from __future__ import annotations

import base64
import struct

import numpy as np
import orjson
import pytest

from gateway.errors import InvalidInput
from gateway.rest.codec_tfserving import decode_predict, encode_predict
from gateway.rest.codec_v2 import decode_request, encode_response
from gateway.serving.inference import InferenceResult
from gateway.serving.tensors import deserialize_bytes, serialize_bytes


def binary_body(header: dict, *buffers: bytes) -> tuple[bytes, str]:
    raw = orjson.dumps(header)
    return raw + b"".join(buffers), str(len(raw))


def test_binary_inputs_are_read_in_order_without_copies() -> None:
    floats = np.arange(6, dtype=np.float32).reshape(2, 3)
    words = np.array([b"ab", b"", "ü".encode()], dtype=object)
    header = {
        "id": "r1",
        "inputs": [
            {
                "name": "f",
                "datatype": "FP32",
                "shape": [2, 3],
                "parameters": {"binary_data_size": 24},
            },
            {"name": "j", "datatype": "INT8", "shape": [2], "data": [1, -2]},
            {
                "name": "w",
                "datatype": "BYTES",
                "shape": [3],
                "parameters": {"binary_data_size": 16},
            },
        ],
        "outputs": [{"name": "y", "parameters": {"binary_data": True}}, {"name": "z"}],
    }
    body, length = binary_body(header, floats.tobytes(), serialize_bytes(words))
    request = decode_request(body, length)
    f, j, w = (t.array for t in request.inference.inputs)
    np.testing.assert_array_equal(f, floats)
    assert not f.flags.writeable  # a view of the request body
    assert j.dtype == np.int8 and j.tolist() == [1, -2]
    assert w.tolist() == [b"ab", b"", "ü".encode()]
    assert request.inference.id == "r1" and request.inference.outputs == ["y", "z"]
    assert request.binary == {"y": True} and request.binary_default is False


def test_binary_outputs_follow_the_json_header() -> None:
    result = InferenceResult(
        "m", 3, {"y": np.array([[1.5, 2.5]], np.float32), "z": np.array(["a", "b"], object)},
        {"y": "FP32", "z": "BYTES"}, "r2",
    )  # fmt: skip
    body, _ = binary_body(
        {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [1]}]}
    )
    request = decode_request(body, None)
    request.binary = {"y": True}
    content, headers = encode_response(result, request)
    split = int(headers["Inference-Header-Content-Length"])
    header = orjson.loads(content[:split])
    assert header == {
        "model_name": "m",
        "model_version": "3",
        "id": "r2",
        "outputs": [
            {
                "name": "y",
                "datatype": "FP32",
                "shape": [1, 2],
                "parameters": {"binary_data_size": 8},
            },
            {"name": "z", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]},
        ],
    }
    assert np.frombuffer(content[split:], "<f4").tolist() == [1.5, 2.5]


def test_json_only_response_has_no_binary_header() -> None:
    result = InferenceResult("m", 1, {"y": np.array([True, False])}, {"y": "BOOL"})
    body, _ = binary_body(
        {"inputs": [{"name": "x", "datatype": "BOOL", "shape": [1], "data": [True]}]}
    )
    content, headers = encode_response(result, decode_request(body, None))
    assert headers == {}
    assert orjson.loads(content)["outputs"][0]["data"] == [True, False]


@pytest.mark.parametrize(
    ("raw", "count", "message"),
    [
        (struct.pack("<I", 5) + b"abc", 1, "exactly 1"),
        (struct.pack("<I", 1) + b"a" + b"zz", 1, "exactly 1"),
        (struct.pack("<I", 1) + b"a", 2, "exactly 2"),
        (b"\x01\x00", 1, "exactly 1"),
    ],
)
def test_bytes_buffers_must_hold_exactly_their_elements(
    raw: bytes, count: int, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        deserialize_bytes("w", memoryview(raw), count)


def test_tf_row_format_with_b64_and_named_columns() -> None:
    body = orjson.dumps(
        {
            "instances": [
                {"a": 1.0, "s": {"b64": base64.b64encode(b"\x00\xff").decode()}},
                {"a": 2, "s": {"b64": ""}},
            ]
        }
    )
    request = decode_predict(body)
    assert request.row_format
    a, s = request.inference.inputs
    assert (a.name, a.array.tolist(), a.datatype) == ("a", [1.0, 2.0], None)
    assert s.array.tolist() == [b"\x00\xff", b""]


def test_tf_responses_mirror_the_request_format() -> None:
    labels = np.array([0, 2], np.longlong)  # what onnxruntime returns for INT64
    probabilities = np.array([[0.5, 0.5], [0.25, 0.75]], np.float32)
    result = InferenceResult(
        "m", 1, {"label": labels, "p": probabilities}, {"label": "INT64", "p": "FP32"}
    )
    rows = orjson.loads(encode_predict(result, row_format=True))
    assert rows == {"predictions": [{"label": 0, "p": [0.5, 0.5]}, {"label": 2, "p": [0.25, 0.75]}]}
    columns = orjson.loads(encode_predict(result, row_format=False))
    assert columns == {"outputs": {"label": [0, 2], "p": [[0.5, 0.5], [0.25, 0.75]]}}
    single = InferenceResult("m", 1, {"y": np.array([b"x"], object)}, {"y": "BYTES"})
    assert orjson.loads(encode_predict(single, row_format=True)) == {"predictions": ["x"]}


@pytest.mark.parametrize("inputs", [None, []])
def test_tf_columnar_inputs_that_hold_no_tensor_are_named(inputs: object) -> None:
    with pytest.raises(InvalidInput, match="'inputs' must be a tensor"):
        decode_predict(orjson.dumps({"inputs": inputs}))


@pytest.mark.parametrize(
    ("datatype", "data"),
    [
        ("FP32", [5.1, True, 1.4, 0.2]),  # numpy alone would read [5.1, 1.0, 1.4, 0.2]
        ("INT64", [[1, 2], [False, 4]]),
        ("FP64", [[1.0, 2.0], [3.0, [True]]]),  # ragged: refused for the true, first
        ("FP32", [True, False, True, False]),
    ],
)
def test_v2_numbers_with_true_or_false_among_them_are_refused(datatype: str, data: list) -> None:
    body = orjson.dumps(
        {"inputs": [{"name": "x", "datatype": datatype, "shape": [1, 4], "data": data}]}
    )
    with pytest.raises(
        InvalidInput, match=f"input 'x': {datatype} data must be numbers, got true/false"
    ):
        decode_request(body, None)
    binary, length = binary_body(
        {"inputs": [{"name": "x", "datatype": datatype, "shape": [1, 4], "data": data}]}
    )
    with pytest.raises(InvalidInput, match="got true/false"):  # the JSON header of a binary body
        decode_request(binary, length)


def test_v2_true_and_false_stay_legal_where_they_belong() -> None:
    body = orjson.dumps(
        {
            "inputs": [
                {"name": "b", "datatype": "BOOL", "shape": [2], "data": [True, False]},
                {"name": "s", "datatype": "BYTES", "shape": [1], "data": ["true"]},
                {"name": "f", "datatype": "FP32", "shape": [2], "data": [1.5, 2.0]},
            ],
            "parameters": {"binary_data_output": False},
        }
    )
    b, s, f = decode_request(body, None).inference.inputs
    assert b.array.tolist() == [True, False] and s.array.tolist() == ["true"]
    assert f.array.tolist() == [1.5, 2.0]


def test_tf_numbers_with_true_among_them_are_refused_but_a_bool_column_is_not() -> None:
    with pytest.raises(InvalidInput, match="input 'a': values mix true/false with numbers"):
        decode_predict(orjson.dumps({"inputs": {"a": [1, True]}}))
    rows = decode_predict(orjson.dumps({"instances": [{"a": 1.0, "flag": True}]}))
    assert [t.array.tolist() for t in rows.inference.inputs] == [[1.0], [True]]
