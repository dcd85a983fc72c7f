"""KServe V2 gRPC messages decoded and encoded without a server, against tritonclient's own
request builder and response reader (what tritonclient.grpc sends and decodes)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import tritonclient.grpc as triton
from tritonclient.grpc import _utils as triton_utils
from tritonclient.grpc import service_pb2

from gateway.errors import InvalidInput
from gateway.grpc.v2_codec import CONTENTS, decode_infer, encode_infer
from gateway.serving.inference import InferenceResult
from tests.integration.models import ONNX_TYPES, sample_of

DATATYPES = list(ONNX_TYPES)


def triton_request(arrays: dict[str, tuple[str, np.ndarray]]) -> service_pb2.ModelInferRequest:
    """The ModelInferRequest tritonclient.grpc builds for `infer` (raw contents)."""
    inputs = []
    for name, (datatype, array) in arrays.items():
        tensor = triton.InferInput(name, list(array.shape), datatype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return triton_utils._get_inference_request(
        "m", inputs, "", "req-1", None, 0, False, False, 0, None, None
    )


@pytest.mark.parametrize("datatype", DATATYPES)
def test_raw_contents_from_tritonclient_are_read_as_sent(datatype: str) -> None:
    array = sample_of(datatype)
    if datatype == "BYTES":
        array = np.vectorize(lambda s: s.encode())(array).astype(object)
    decoded = decode_infer(triton_request({"t": (datatype, array)})).inference
    (tensor,) = decoded.inputs
    assert (tensor.name, tensor.datatype, tensor.array.shape) == ("t", datatype, array.shape)
    np.testing.assert_array_equal(tensor.array, array)
    assert decoded.id == "req-1"


@pytest.mark.parametrize("datatype", [d for d in DATATYPES if d in CONTENTS])
def test_typed_contents_are_read_as_their_datatype(datatype: str) -> None:
    array = sample_of(datatype)
    field = CONTENTS[datatype][0]
    tensor = service_pb2.ModelInferRequest.InferInputTensor(
        name="t", datatype=datatype, shape=array.shape
    )
    values = [v.encode() for v in array.flat] if datatype == "BYTES" else array.ravel().tolist()
    getattr(tensor.contents, field).extend(values)
    (found,) = decode_infer(service_pb2.ModelInferRequest(inputs=[tensor])).inference.inputs
    expected = np.array(values, dtype=object).reshape(array.shape) if datatype == "BYTES" else array
    np.testing.assert_array_equal(found.array, expected)
    assert found.array.dtype == expected.dtype


def typed(
    datatype: str, shape: list[int], **contents: list[object]
) -> service_pb2.ModelInferRequest:
    tensor = service_pb2.ModelInferRequest.InferInputTensor(
        name="col", datatype=datatype, shape=shape, contents=contents
    )
    return service_pb2.ModelInferRequest(inputs=[tensor])


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (
            typed("INT8", [2], int_contents=[1, 300]),
            "input 'col': a value is out of the INT8 range",
        ),
        (typed("UINT16", [1], uint_contents=[70000]), "input 'col': a value is out of the UINT16"),
        (typed("FP32", [3], fp32_contents=[1, 2]), "shape [3] needs 3 values, contents.fp32_con"),
        (
            typed("FP32", [1], fp64_contents=[1]),
            "FP32 data goes in contents.fp32_contents, got fp64",
        ),
        (typed("FP16", [1]), "input 'col': FP16 has no typed contents field; send it in raw_input"),
        (typed("FLOAT", [1], fp32_contents=[1]), "input 'col': unknown datatype 'FLOAT'"),
        (typed("FP32", [-1], fp32_contents=[1]), "input 'col': shape must be non-negative"),
        (service_pb2.ModelInferRequest(), "the request has no inputs"),
    ],
)
def test_bad_typed_inputs_are_refused_naming_the_input(request_: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        decode_infer(request_)


def test_raw_contents_must_cover_every_input_and_only_raw() -> None:
    request = triton_request({"a": ("FP32", np.ones((1, 2), np.float32))})
    request.raw_input_contents.append(b"extra")
    with pytest.raises(InvalidInput, match="holds 2 buffers for 1 inputs"):
        decode_infer(request)
    mixed = triton_request({"a": ("FP32", np.ones((1, 2), np.float32))})
    mixed.inputs[0].contents.fp32_contents.extend([1.0, 2.0])
    with pytest.raises(InvalidInput, match="input 'a' has typed contents while the request uses"):
        decode_infer(mixed)
    short = triton_request({"a": ("FP32", np.ones((1, 2), np.float32))})
    short.raw_input_contents[0] = b"\x00" * 4
    with pytest.raises(
        InvalidInput, match=re.escape("raw_input_contents is 4 bytes but shape [1, 2] of FP32")
    ):
        decode_infer(short)


def test_shared_memory_is_refused() -> None:
    request = triton_request({"a": ("FP32", np.ones((1, 2), np.float32))})
    request.inputs[0].parameters["shared_memory_region"].string_param = "region"
    with pytest.raises(InvalidInput, match="input 'a': the shared-memory extension"):
        decode_infer(request)


def test_outputs_are_raw_and_tritonclient_reads_every_datatype() -> None:
    outputs = {d.lower(): sample_of(d) for d in DATATYPES}
    datatypes = {d.lower(): d for d in DATATYPES}
    result = InferenceResult("m", 3, outputs, datatypes, "req-9")
    response = encode_infer(result, revision=4)
    assert (response.model_name, response.model_version, response.id) == ("m", "3", "req-9")
    assert len(response.raw_output_contents) == len(outputs)
    assert response.parameters["release_revision"].int64_param == 4
    read = triton.InferResult(response)
    for name, array in outputs.items():
        got = read.as_numpy(name)
        if datatypes[name] == "BYTES":
            got = np.vectorize(lambda b: b.decode())(got)
        np.testing.assert_array_equal(got, array)
        assert got.shape == array.shape
