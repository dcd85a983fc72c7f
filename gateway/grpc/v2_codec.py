"""KServe V2 over gRPC: inference.ModelInferRequest to the DataPlane's request, and its
result to inference.ModelInferResponse (the protos tritonclient[grpc] ships).

Inputs come either all in `raw_input_contents` (one little-endian buffer per input, in
input order; BYTES as 4-byte length-prefixed elements: what tritonclient.grpc sends) or
each in its typed `contents` field (`fp32_contents`, `int_contents` for INT8/16/32 ...;
FP16 has none, so it goes raw). Outputs go back in `raw_output_contents`, which
tritonclient decodes. Shared memory and the classification extension are refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from tritonclient.grpc import service_pb2

from gateway.errors import InvalidInput
from gateway.serving.inference import InferenceRequest, InferenceResult
from gateway.serving.tensors import (
    RequestTensor,
    check_datatype,
    from_binary,
    json_numbers,
    to_binary,
)
from model_repo.signature import V2_TO_NUMPY

# The typed field of InferTensorContents for each datatype, and the dtype protobuf gives it.
CONTENTS: Mapping[str, tuple[str, np.dtype[Any]]] = {
    "BOOL": ("bool_contents", np.dtype(np.bool_)),
    "INT8": ("int_contents", np.dtype(np.int32)),
    "INT16": ("int_contents", np.dtype(np.int32)),
    "INT32": ("int_contents", np.dtype(np.int32)),
    "INT64": ("int64_contents", np.dtype(np.int64)),
    "UINT8": ("uint_contents", np.dtype(np.uint32)),
    "UINT16": ("uint_contents", np.dtype(np.uint32)),
    "UINT32": ("uint_contents", np.dtype(np.uint32)),
    "UINT64": ("uint64_contents", np.dtype(np.uint64)),
    "FP32": ("fp32_contents", np.dtype(np.float32)),
    "FP64": ("fp64_contents", np.dtype(np.float64)),
    "BYTES": ("bytes_contents", np.dtype(object)),
}
_OutputTensor = service_pb2.ModelInferResponse.InferOutputTensor


@dataclass(slots=True)
class GrpcInferRequest:
    inference: InferenceRequest


def decode_infer(request: Any, meta: object = None) -> GrpcInferRequest:
    """The DataPlane's request from a ModelInferRequest (`meta`: unused, the DataPlane's
    decoders take the call's metadata)."""
    raw = request.raw_input_contents
    if not request.inputs:
        raise InvalidInput("the request has no inputs")
    if raw and len(raw) != len(request.inputs):
        raise InvalidInput(
            f"raw_input_contents holds {len(raw)} buffers for {len(request.inputs)} inputs; "
            "send one per input, in input order, or use each input's typed contents"
        )
    tensors = [_input(index, item, raw) for index, item in enumerate(request.inputs)]
    for item in request.outputs:
        _refuse_extensions(item.parameters, f"output {item.name!r}")
    names = [item.name for item in request.outputs] or None
    return GrpcInferRequest(InferenceRequest(tensors, names, request.id or None))


def encode_infer(result: InferenceResult, revision: int | None = None) -> Any:
    """The ModelInferResponse: every output in raw_output_contents; the release revision
    that chose the version, if any, in `parameters`."""
    datatypes = result.datatypes
    response = service_pb2.ModelInferResponse(
        model_name=result.model_name,
        model_version=str(result.model_version),
        id=result.id or "",
        outputs=[
            _OutputTensor(name=name, datatype=datatypes[name], shape=array.shape)
            for name, array in result.outputs.items()
        ],
        raw_output_contents=[to_binary(array) for array in result.outputs.values()],
    )
    if revision is not None:
        response.parameters["release_revision"].int64_param = revision
    return response


def _input(index: int, item: Any, raw: Any) -> RequestTensor:
    name = item.name
    if not name:
        raise InvalidInput(f"input {index} has no name")
    datatype = item.datatype
    check_datatype(name, datatype)
    _refuse_extensions(item.parameters, f"input {name!r}")
    shape = tuple(item.shape)
    if any(d < 0 for d in shape):
        raise InvalidInput(f"input {name!r}: shape must be non-negative integers, got {shape}")
    if raw:
        if item.HasField("contents"):
            raise InvalidInput(
                f"input {name!r} has typed contents while the request uses raw_input_contents; "
                "send every input one way"
            )
        array = from_binary(name, datatype, shape, memoryview(raw[index]), "raw_input_contents")
    else:
        array = typed_contents(name, datatype, shape, item.contents)
    return RequestTensor(name, array, datatype)


def typed_contents(name: str, datatype: str, shape: tuple[int, ...], contents: Any) -> np.ndarray:
    """An input from its InferTensorContents, refusing values its datatype cannot hold."""
    if datatype not in CONTENTS:
        raise InvalidInput(
            f"input {name!r}: {datatype} has no typed contents field; send it in raw_input_contents"
        )
    field, carrier = CONTENTS[datatype]
    given = [descriptor.name for descriptor, _ in contents.ListFields()]
    if given and given != [field]:
        raise InvalidInput(
            f"input {name!r}: {datatype} data goes in contents.{field}, got {', '.join(given)}"
        )
    values = getattr(contents, field)
    count = math.prod(shape)
    if len(values) != count:
        raise InvalidInput(
            f"input {name!r}: shape {list(shape)} needs {count} values, contents.{field} "
            f"holds {len(values)}"
        )
    if datatype == "BYTES":
        array = np.empty(count, dtype=object)
        array[:] = list(values)
        return array.reshape(shape)
    numbers = np.array(values, dtype=carrier)
    dtype = V2_TO_NUMPY[datatype]
    if numbers.dtype != dtype:  # INT8 in int_contents ...: range checked, never wrapped
        numbers = json_numbers(name, numbers, dtype, datatype)
    return numbers.reshape(shape)


def _refuse_extensions(parameters: Any, where: str) -> None:
    if "shared_memory_region" in parameters:
        raise InvalidInput(f"{where}: the shared-memory extension is not supported")
    if "classification" in parameters:
        raise InvalidInput(f"{where}: the classification extension is not supported")
