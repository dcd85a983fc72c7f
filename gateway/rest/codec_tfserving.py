"""TensorFlow Serving REST bodies: `instances` (row) and `inputs` (columnar) predict requests.

Row format: each instance is one row; a multi-input model gets objects naming its inputs, a
single-input model may get the bare row. Columnar format: `inputs` is the tensor of the only
input, or an object of named tensors. `{"b64": "..."}` carries bytes. `signature_name`
chooses a signature of the version (`serving_default` if absent). The response mirrors the
request: `{"predictions": [...]}` per row, or `{"outputs": ...}`, each output as the model
computed it (a `[3]` output is three numbers, not three lists); a string output whose name
ends in `_bytes` is written as `{"b64": ...}`, as TF Serving does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from gateway.errors import InvalidInput
from gateway.rest.common import parse_object
from gateway.serving.inference import InferenceRequest, InferenceResult
from gateway.serving.tensors import RequestTensor, holds_bool, may_hold_bools
from model_repo.signature_defs import DEFAULT_SIGNATURE

_DUMPS_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
BYTES_SUFFIX = "_bytes"  # TF Serving's mark of a string output holding binary data


@dataclass(slots=True)
class PredictRequest:
    inference: InferenceRequest
    row_format: bool


def decode_http(body: bytes, headers: Mapping[bytes, bytes]) -> PredictRequest:
    """`decode_predict` as the DataPlane calls decoders (TF Serving reads no headers)."""
    return decode_predict(body)


def decode_predict(body: bytes) -> PredictRequest:
    doc = parse_object(body)
    signature = signature_name(doc)
    if ("instances" in doc) == ("inputs" in doc):
        raise InvalidInput(
            "the body needs exactly one of 'instances' (row format) or 'inputs' (columnar format)"
        )
    bools = may_hold_bools(body)
    if "instances" in doc:
        tensors, row_format = _rows(doc["instances"], bools), True
    else:
        tensors, row_format = _columns(doc["inputs"], bools), False
    return PredictRequest(InferenceRequest(tensors, signature=signature), row_format)


def signature_name(doc: dict[str, Any]) -> str:
    """The signature a body names; `serving_default` when it names none."""
    name = doc.get("signature_name")
    if name is None or name == "":
        return DEFAULT_SIGNATURE
    if not isinstance(name, str):
        raise InvalidInput(f"'signature_name' must be a string, got {name!r}")
    return name


def encode_predict(result: InferenceResult, row_format: bool) -> bytes:
    values = {name: _jsonable(name, array) for name, array in result.outputs.items()}
    if not row_format:
        body: Any = next(iter(values.values())) if len(values) == 1 else values
        return orjson.dumps({"outputs": body}, option=_DUMPS_OPTIONS)
    if len(values) == 1:
        return orjson.dumps({"predictions": next(iter(values.values()))}, option=_DUMPS_OPTIONS)
    rows = _common_rows(result.outputs)
    predictions = [{name: value[i] for name, value in values.items()} for i in range(rows)]
    return orjson.dumps({"predictions": predictions}, option=_DUMPS_OPTIONS)


def _common_rows(outputs: dict[str, np.ndarray]) -> int:
    """The batch size of a row-format answer: every output must share its 0-th dimension
    (TF Serving refuses the row format otherwise)."""
    sizes = {name: (array.shape[0] if array.ndim else None) for name, array in outputs.items()}
    if None in sizes.values() or len(set(sizes.values())) > 1:
        listed = ", ".join(f"{n}: {'scalar' if s is None else s}" for n, s in sizes.items())
        raise InvalidInput(
            f"the outputs do not share their first dimension ({listed}), so they cannot be "
            "written as rows; send the request in columnar format ('inputs')"
        )
    return next(iter(sizes.values())) or 0


def _rows(instances: Any, bools: bool) -> list[RequestTensor]:
    if not isinstance(instances, list) or not instances:
        raise InvalidInput("'instances' must be a non-empty list of rows")
    first = instances[0]
    if not isinstance(first, dict) or _is_b64(first):
        return [RequestTensor(None, _array("instances", instances, bools))]
    names = list(first)
    for i, row in enumerate(instances):
        if not isinstance(row, dict) or row.keys() != first.keys():
            raise InvalidInput(
                f"instance {i} does not name the same inputs as instance 0 ({', '.join(names)})"
            )
    return [
        RequestTensor(name, _array(name, [row[name] for row in instances], bools)) for name in names
    ]


def _columns(inputs: Any, bools: bool) -> list[RequestTensor]:
    if inputs is None or (isinstance(inputs, list) and not inputs):
        raise InvalidInput("'inputs' must be a tensor (a list) or an object of named tensors")
    if isinstance(inputs, dict) and not _is_b64(inputs):
        if not inputs:
            raise InvalidInput("'inputs' is an empty object")
        return [RequestTensor(name, _array(name, value, bools)) for name, value in inputs.items()]
    return [RequestTensor(None, _array("inputs", inputs, bools))]


def _array(name: str, value: Any, bools: bool) -> np.ndarray:
    leaf = _first_leaf(value)
    try:
        if isinstance(leaf, dict):
            return np.asarray(_decode_b64(name, value), dtype=object)
        if isinstance(leaf, str):
            return _strings(name, value)
        array = np.asarray(value)
    except ValueError as exc:
        raise InvalidInput(f"input {name!r}: values are not a rectangular array: {exc}") from None
    if array.dtype.kind == "O":  # nulls among numbers, or a mix: the model's type decides
        _check_leaves(name, array)
    if bools and array.dtype.kind != "b" and holds_bool(value):  # numpy took true as 1
        raise InvalidInput(f"input {name!r}: values mix true/false with numbers")
    return array


def _strings(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value, dtype=object)
    if not all(v is None or isinstance(v, str) for v in array.flat):
        raise InvalidInput(f"input {name!r}: values mix strings with other things")
    return array


def _check_leaves(name: str, array: np.ndarray) -> None:
    """Numbers and nulls (missing values) may be mixed; anything else with them may not."""
    for value in array.flat:
        if value is not None and type(value) not in (int, float, str):
            raise InvalidInput(
                f"input {name!r}: values must be numbers, strings or null, got {value!r}"
            )


def _first_leaf(value: Any) -> Any:
    while isinstance(value, list) and value:
        value = value[0]
    return value


def _is_b64(value: dict[str, Any]) -> bool:
    return len(value) == 1 and "b64" in value


def _decode_b64(name: str, value: Any) -> Any:
    if isinstance(value, list):
        return [_decode_b64(name, v) for v in value]
    if not isinstance(value, dict) or not _is_b64(value) or not isinstance(value["b64"], str):
        raise InvalidInput(f'input {name!r}: expected {{"b64": "<base64>"}}, got {value!r}')
    try:
        return base64.b64decode(value["b64"], validate=True)
    except binascii.Error as exc:
        raise InvalidInput(f"input {name!r}: invalid base64: {exc}") from None


def _jsonable(name: str, array: np.ndarray) -> Any:
    """What orjson writes: numeric arrays as they are, strings as nested lists of str (of
    {"b64": ...} for an output named `*_bytes`)."""
    if array.dtype == object or array.dtype.kind in "SU":
        if name.endswith(BYTES_SUFFIX):
            cells: list[Any] = [{"b64": base64.b64encode(_raw(v)).decode()} for v in array.flat]
        else:
            cells = [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in array.flat
            ]
        flat = np.empty(len(cells), dtype=object)
        flat[:] = cells
        return flat.reshape(array.shape).tolist()
    # onnxruntime returns INT64 as numpy.longlong, whose scalars orjson does not know; the
    # canonical dtype of the same layout has scalars it does (row format indexes rows).
    return np.ascontiguousarray(array, dtype=np.dtype(array.dtype.str))


def _raw(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()
