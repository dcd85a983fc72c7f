"""TensorFlow's TensorProto to numpy and back, as TF Serving reads and writes them.

In: `tensor_content` (the little-endian bytes of the whole tensor, what
`tf.make_tensor_proto` writes for numbers) or the dtype's typed field (`float_val`,
`int_val` for DT_INT8/16/32 and DT_UINT8/16, `half_val` holding DT_HALF bit patterns,
`string_val` ...). The typed field holds either one value per element or a single value
that fills the shape, as TensorFlow reads it; any other count, a field of another dtype, or
an integer out of the dtype's range is refused, naming the input. Out: the typed field, as
TF Serving's Predict answers (tf.make_ndarray reads both forms).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from gateway.errors import InvalidInput
from gateway.serving.tensors import json_numbers
from model_repo.signature import V2_TO_NUMPY
from model_repo.signature_defs import TF_DTYPES, V2_DATATYPES

# The TensorProto field of each V2 datatype's values, and the dtype protobuf gives it.
VALUES: Mapping[str, tuple[str, np.dtype[Any]]] = {
    "BOOL": ("bool_val", np.dtype(np.bool_)),
    "INT8": ("int_val", np.dtype(np.int32)),
    "INT16": ("int_val", np.dtype(np.int32)),
    "INT32": ("int_val", np.dtype(np.int32)),
    "UINT8": ("int_val", np.dtype(np.int32)),
    "UINT16": ("int_val", np.dtype(np.int32)),
    "INT64": ("int64_val", np.dtype(np.int64)),
    "UINT32": ("uint32_val", np.dtype(np.uint32)),
    "UINT64": ("uint64_val", np.dtype(np.uint64)),
    "FP16": ("half_val", np.dtype(np.int32)),  # bit patterns of the halves
    "FP32": ("float_val", np.dtype(np.float32)),
    "FP64": ("double_val", np.dtype(np.float64)),
    "BYTES": ("string_val", np.dtype(object)),
}
_HEADER_FIELDS = frozenset({"dtype", "tensor_shape", "version_number", "tensor_content"})


def datatype_of(name: str, proto: Any, dtypes: Any) -> str:
    """The V2 datatype of a TensorProto's dtype; `dtypes` is TensorFlow's DataType enum."""
    try:
        dtype_name = dtypes.Name(proto.dtype)
    except ValueError:  # a number no DataType has
        dtype_name = str(proto.dtype)
    datatype = V2_DATATYPES.get(dtype_name)
    if datatype is None:
        known = ", ".join(TF_DTYPES.values())
        raise InvalidInput(f"input {name!r}: dtype {dtype_name} is not served; use one of {known}")
    return datatype


def to_array(name: str, proto: Any, datatype: str) -> np.ndarray:
    shape = _shape(name, proto.tensor_shape)
    count = math.prod(shape)
    field, carrier = VALUES[datatype]
    others = [f.name for f, _ in proto.ListFields() if f.name not in _HEADER_FIELDS | {field}]
    if others:
        raise InvalidInput(
            f"input {name!r}: a {TF_DTYPES[datatype]} tensor carries its values in "
            f"tensor_content or {field}, not {', '.join(others)}"
        )
    if proto.tensor_content:
        return _content(name, datatype, shape, proto.tensor_content)
    values = getattr(proto, field)
    if len(values) not in (count, 1) or (count == 0 and values):
        raise InvalidInput(
            f"input {name!r}: shape {list(shape)} needs {count} values (or one to fill it), "
            f"{field} holds {len(values)}"
        )
    array = _typed(name, datatype, values, carrier)
    if len(array) == count:
        return array.reshape(shape)
    return np.full(shape, array[0], dtype=array.dtype)


def _shape(name: str, shape: Any) -> tuple[int, ...]:
    if shape.unknown_rank:
        raise InvalidInput(f"input {name!r}: tensor_shape has an unknown rank; give its dims")
    dims = tuple(d.size for d in shape.dim)
    if any(d < 0 for d in dims):
        raise InvalidInput(f"input {name!r}: tensor_shape {list(dims)} has a negative size")
    return dims


def _content(name: str, datatype: str, shape: tuple[int, ...], content: bytes) -> np.ndarray:
    if datatype == "BYTES":
        raise InvalidInput(
            f"input {name!r}: DT_STRING tensors carry string_val, not tensor_content"
        )
    dtype = V2_TO_NUMPY[datatype].newbyteorder("<")
    needed = math.prod(shape) * dtype.itemsize
    if len(content) != needed:
        raise InvalidInput(
            f"input {name!r}: tensor_content is {len(content)} bytes but shape {list(shape)} "
            f"of {TF_DTYPES[datatype]} needs {needed}"
        )
    return np.frombuffer(content, dtype=dtype).reshape(shape)


def _typed(name: str, datatype: str, values: Any, carrier: np.dtype[Any]) -> np.ndarray:
    if datatype == "BYTES":
        array = np.empty(len(values), dtype=object)
        array[:] = list(values)
        return array
    numbers = np.array(values, dtype=carrier)
    if datatype == "FP16":
        bits = json_numbers(name, numbers, np.dtype(np.uint16), "FP16 bit pattern")
        return bits.view(np.float16)
    dtype = V2_TO_NUMPY[datatype]
    return numbers if numbers.dtype == dtype else json_numbers(name, numbers, dtype, datatype)


def to_proto(array: np.ndarray, datatype: str, tensor_class: Any, dtypes: Any) -> Any:
    """A TensorProto of `array` with its values in the typed field, as TF Serving writes."""
    proto = tensor_class(dtype=dtypes.Value(TF_DTYPES[datatype]))
    for size in array.shape:
        proto.tensor_shape.dim.add(size=size)
    field = getattr(proto, VALUES[datatype][0])
    flat = array.reshape(-1)
    if datatype == "BYTES":
        field.extend(v if isinstance(v, bytes) else str(v).encode() for v in flat)
    elif datatype == "FP16":
        field.extend(flat.astype(np.float16).view(np.uint16).tolist())
    else:
        field.extend(flat.tolist())
    return proto
