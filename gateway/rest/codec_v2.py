"""Open Inference Protocol (V2) bodies, JSON and Triton's binary tensor extension.

A binary request is a JSON header of `Inference-Header-Content-Length` bytes followed by the
raw tensors, in input order, each `parameters.binary_data_size` long. A response holds binary
outputs the same way when the request asks for them (`parameters.binary_data_output`, or
`binary_data` on a requested output): tritonclient.http asks for that by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from gateway.errors import InvalidInput
from gateway.rest.common import parse_object
from gateway.serving.inference import InferenceRequest, InferenceResult
from gateway.serving.tensors import (
    RequestTensor,
    check_datatype,
    check_shape,
    from_binary,
    from_json,
    holds_bool,
    may_hold_bools,
    plain_json,
    refuse_bools,
    to_binary,
    to_json_data,
)
from model_repo.signature import V2_DATATYPES

HEADER_LENGTH = "inference-header-content-length"
_HEADER_LENGTH = HEADER_LENGTH.encode()
_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_NO_BINARY = memoryview(b"")
# Datatypes whose JSON data are numbers: a true or false among them is refused, not read as 1/0.
_NUMERIC = frozenset(V2_DATATYPES) - {"BOOL", "BYTES"}


@dataclass(slots=True)
class V2Request:
    inference: InferenceRequest
    binary_default: bool = False  # request-level binary_data_output
    binary: dict[str, bool] = field(default_factory=dict)  # per requested output


def decode_http(body: bytes, headers: Mapping[bytes, bytes]) -> V2Request:
    """The request in an HTTP body, binary when its headers give the JSON part's length."""
    header_length = headers.get(_HEADER_LENGTH)
    return decode_request(body, None if header_length is None else header_length.decode("latin-1"))


def decode_request(body: bytes, header_length: str | None) -> V2Request:
    if header_length is None:  # plain JSON: no views to make, no binary part to account for
        doc = parse_object(body)
        inputs, _ = _inputs(doc.get("inputs"), _NO_BINARY, may_hold_bools(body))
    else:
        view = memoryview(body)
        split = _header_length(header_length, len(body))
        doc = parse_object(view[:split])
        inputs, used = _inputs(doc.get("inputs"), view[split:], may_hold_bools(body[:split]))
        if used != len(body) - split:
            raise InvalidInput(
                f"the binary data after the JSON header is {len(body) - split} bytes, but the "
                f"inputs' binary_data_size add up to {used}"
            )
    if len(doc) == 1:  # only "inputs": no id, parameters or outputs to read
        return V2Request(InferenceRequest(inputs))
    request_id = doc.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput(f"'id' must be a string, got {request_id!r}")
    params = _parameters(doc, "the request")
    names, binary = _outputs(doc.get("outputs"))
    return V2Request(
        InferenceRequest(inputs, names, request_id),
        binary_default=params.get("binary_data_output") is True,
        binary=binary,
    )


def encode_response(result: InferenceResult, request: V2Request) -> tuple[bytes, dict[str, str]]:
    """The response body and its extra headers."""
    if not request.binary and not request.binary_default:  # all JSON, the everyday case
        datatypes = result.datatypes
        outputs = [
            {"name": name, "datatype": datatypes[name], "shape": array.shape, "data": _data(array)}
            for name, array in result.outputs.items()
        ]
        return orjson.dumps(_document(result, outputs), option=_DUMPS_OPTIONS), {}
    outputs = []
    buffers: list[bytes] = []
    for name, array in result.outputs.items():
        entry: dict[str, Any] = {
            "name": name,
            "datatype": result.datatypes[name],
            "shape": list(array.shape),
        }
        if request.binary.get(name, request.binary_default):
            raw = to_binary(array)
            entry["parameters"] = {"binary_data_size": len(raw)}
            buffers.append(raw)
        else:
            entry["data"] = to_json_data(array)
        outputs.append(entry)
    header = orjson.dumps(_document(result, outputs), option=_DUMPS_OPTIONS)
    if not buffers:
        return header, {}
    return b"".join((header, *buffers)), {"Inference-Header-Content-Length": str(len(header))}


def _document(result: InferenceResult, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    if result.id is None:
        return {
            "model_name": result.model_name,
            "model_version": str(result.model_version),
            "outputs": outputs,
        }
    return {
        "model_name": result.model_name,
        "model_version": str(result.model_version),
        "id": result.id,
        "outputs": outputs,
    }


def _data(array: np.ndarray) -> Any:
    """Numbers as a flat array orjson writes itself (tuples and arrays need no list())."""
    if array.dtype.kind in "OSU":
        return to_json_data(array)
    return array.reshape(-1)


def _header_length(value: str | None, total: int) -> int:
    if value is None:
        return total
    try:
        length = int(value)
    except ValueError:
        length = -1
    if not 0 < length <= total:
        raise InvalidInput(
            f"Inference-Header-Content-Length is {value!r}, the body is {total} bytes"
        )
    return length


def _inputs(raw: Any, binary: memoryview, bools: bool) -> tuple[list[RequestTensor], int]:
    """The request's tensors and the binary bytes they took; `bools`: whether the JSON
    text holds a true or false anywhere (else no data needs looking at for them)."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("'inputs' must be a non-empty list of tensors")
    tensors: list[RequestTensor] = []
    offset = 0
    for item in raw:
        if bools and type(item) is dict:
            _refuse_bools_in_numbers(item)
        plain = plain_json(item) if type(item) is dict else None
        if plain is not None:  # the everyday JSON input: nothing more to check here
            tensors.append(RequestTensor(item["name"], plain, item["datatype"]))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput("each input must be an object with a string 'name'")
        name = item["name"]
        datatype = item.get("datatype")
        check_datatype(name, datatype)  # so datatype is a known V2 name below
        shape = check_shape(name, item.get("shape"))
        size = _parameters(item, f"input {name!r}").get("binary_data_size")
        if size is None:
            if "data" not in item:
                raise InvalidInput(f"input {name!r} has neither 'data' nor binary_data_size")
            array = from_json(name, str(datatype), shape, item["data"])
        else:
            array, size = _binary_tensor(name, str(datatype), shape, size, binary, offset)
            offset += size
        tensors.append(RequestTensor(name, array, datatype))
    return tensors, offset


def _refuse_bools_in_numbers(item: dict[str, Any]) -> None:
    datatype = item.get("datatype")
    if datatype in _NUMERIC and holds_bool(item.get("data")):
        raise refuse_bools(str(item.get("name")), str(datatype))


def _binary_tensor(
    name: str, datatype: str, shape: tuple[int, ...], size: Any, binary: memoryview, offset: int
) -> tuple[np.ndarray, int]:
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidInput(f"input {name!r}: binary_data_size must be a non-negative integer")
    if offset + size > len(binary):
        raise InvalidInput(
            f"input {name!r}: binary_data_size {size} runs past the end of the body "
            f"({len(binary) - offset} bytes left)"
        )
    return from_binary(name, datatype, shape, binary[offset : offset + size]), size


def _parameters(item: dict[str, Any], where: str) -> dict[str, Any]:
    params = item.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidInput(f"'parameters' of {where} must be an object")
    if "shared_memory_region" in params:
        raise InvalidInput(f"{where}: the shared-memory extension is not supported")
    return params


def _outputs(raw: Any) -> tuple[list[str] | None, dict[str, bool]]:
    if raw is None or raw == []:
        return None, {}
    if not isinstance(raw, list):
        raise InvalidInput("'outputs' must be a list of {\"name\": ...} objects")
    names: list[str] = []
    binary: dict[str, bool] = {}
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput("each requested output must be an object with a string 'name'")
        params = _parameters(item, f"output {item['name']!r}")
        if params.get("classification"):
            raise InvalidInput("the classification extension is not supported")
        if isinstance(params.get("binary_data"), bool):
            binary[item["name"]] = params["binary_data"]
        names.append(item["name"])
    return names, binary
