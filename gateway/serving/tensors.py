"""Tensors on the wire: V2 JSON `data`, Triton's binary buffers, and back.

Arrays are built straight from the parsed JSON or from the request buffer (`np.frombuffer`,
no copy). Each function checks only what it must to build a correct array; whether the array
fits the model is `conformance`'s business.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from gateway.errors import InvalidInput
from model_repo.signature import V2_DATATYPES, V2_TO_NUMPY

# Binary buffers are little-endian whatever the host (the Triton wire format).
_WIRE_DTYPES = {k: v.newbyteorder("<") for k, v in V2_TO_NUMPY.items() if k != "BYTES"}
_LENGTH = struct.Struct("<I")


@dataclass(slots=True)
class RequestTensor:
    """One input as a protocol delivered it.

    `name` is None when the protocol allows leaving it out (TF Serving with one input);
    `datatype` is None when the protocol carries none (TF Serving's JSON numbers).
    """

    name: str | None
    array: np.ndarray
    datatype: str | None = None


# Datatypes whose JSON data numpy reads directly: V2 name -> the dtype numpy must infer for the
# values to be taken as they are (FP32 is read as float64 and narrowed, range checked).
_PLAIN_DTYPES = {k: V2_TO_NUMPY[k] for k in ("FP32", "FP64", "INT64", "BOOL")}
_FP64 = V2_TO_NUMPY["FP64"]
_FP32 = V2_TO_NUMPY["FP32"]
_FP32_MAX = float(np.finfo(np.float32).max)
_SMALL = 256  # up to this many values, Python's min/max beat numpy's reductions


def plain_json(item: dict[str, Any]) -> np.ndarray | None:
    """The array of a V2 JSON input in its everyday form, or None for the general path.

    Everyday form: exactly `name`, `datatype`, `shape` and `data`; a shape of non-negative
    integers; data that numpy reads as the datatype's own dtype (or float64 for FP32, in
    range). Anything else returns None, and `from_json` decides and names what is wrong, so
    this shortcut never accepts what the general path would refuse.
    """
    if len(item) != 4:
        return None
    datatype, shape, data = item.get("datatype"), item.get("shape"), item.get("data")
    if type(datatype) is not str or type(shape) is not list or type(data) is not list:
        return None
    dtype = _PLAIN_DTYPES.get(datatype)
    if dtype is None or type(item.get("name")) is not str:
        return None
    count = 1
    for dim in shape:
        if type(dim) is not int or dim < 0:
            return None
        count *= dim
    try:
        raw = np.asarray(data)
    except (ValueError, TypeError, OverflowError):
        return None
    if raw.size != count or count == 0:
        return None
    if raw.dtype == dtype:
        return raw.reshape(shape)
    if dtype is _FP32 and raw.dtype == _FP64 and _fits_fp32(raw, data):
        return raw.astype(_FP32).reshape(shape)
    return None


def _fits_fp32(raw: np.ndarray, data: list[Any]) -> bool:
    if raw.size <= _SMALL and raw.ndim == 1:  # flat: every item is a number
        return bool(min(data) >= -_FP32_MAX and max(data) <= _FP32_MAX)
    return bool(raw.min() >= -_FP32_MAX and raw.max() <= _FP32_MAX)


def may_hold_bools(json_text: bytes) -> bool:
    """Whether a JSON text can hold a true or false at all: a byte search, so that the
    per-value look of `holds_bool` is paid only by the bodies that do."""
    return b"true" in json_text or b"false" in json_text


def holds_bool(data: Any) -> bool:
    """Whether JSON data (a value or nested lists) holds a true or false.

    numpy reads `[true, 1.5]` as [1.0, 1.5] without a trace, so a numeric input whose data
    mixes in booleans must be caught before numpy sees it.
    """
    pending = [data]
    while pending:
        item = pending.pop()
        if type(item) is bool:
            return True
        if type(item) is not list:
            continue
        for value in item:
            kind = type(value)
            if kind is bool:
                return True
            if kind is list:
                pending.append(value)
    return False


def refuse_bools(name: str, datatype: str) -> InvalidInput:
    return InvalidInput(f"input {name!r}: {datatype} data must be numbers, got true/false")


def check_datatype(name: str, datatype: Any) -> np.dtype[Any]:
    dtype = V2_TO_NUMPY.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise InvalidInput(
            f"input {name!r}: unknown datatype {datatype!r}; use one of {', '.join(V2_DATATYPES)}"
        )
    return dtype


def check_shape(name: str, shape: Any) -> tuple[int, ...]:
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise InvalidInput(
            f"input {name!r}: shape must be a list of non-negative integers, got {shape!r}"
        )
    return tuple(shape)


def from_json(name: str, datatype: str, shape: tuple[int, ...], data: Any) -> np.ndarray:
    """An array of `datatype` from V2 JSON `data` (flat or nested), refusing lossy values."""
    dtype = check_datatype(name, datatype)
    if not isinstance(data, list):
        data = [data]
    if datatype == "BYTES":
        array = _strings(name, data)
    else:
        try:
            raw = np.asarray(data)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidInput(f"input {name!r}: data is not a rectangular array: {exc}") from None
        array = json_numbers(name, raw, dtype, datatype, data)
    expected = math.prod(shape)
    if array.size != expected:
        raise InvalidInput(
            f"input {name!r}: shape {list(shape)} needs {expected} values, data holds {array.size}"
        )
    return array.reshape(shape)


def json_numbers(
    name: str, raw: np.ndarray, dtype: np.dtype[Any], datatype: str, data: Any = None
) -> np.ndarray:
    """Numbers parsed from JSON as `dtype`: integers stay exact, floats stay in range.

    `raw` is numpy's own reading of the JSON values; `data`, the values themselves, lets
    64-bit integers that numpy read as float64 (a mix of small and huge) be read exactly.
    """
    kind = raw.dtype.kind
    if raw.size == 0:
        return raw.astype(dtype)
    if kind == "O":  # nulls among the numbers (numpy reads them as objects)
        return json_numbers(name, _missing_as_nan(name, raw, dtype, datatype), dtype, datatype)
    if dtype.kind == "b":
        if kind != "b":
            raise InvalidInput(f"input {name!r}: BOOL data must be true/false, got {_first(raw)}")
        return raw
    if kind not in "iuf":
        if kind == "b":
            raise refuse_bools(name, datatype)
        raise InvalidInput(f"input {name!r}: {datatype} data must be numbers, got {_first(raw)!r}")
    if dtype.kind == "f":
        if raw.dtype == dtype:
            return raw
        with np.errstate(over="raise"):  # 1e300 as FP32 is an error, not inf
            try:
                return raw.astype(dtype)
            except FloatingPointError:
                raise InvalidInput(
                    f"input {name!r}: a value is out of the {datatype} range"
                ) from None
    return _integers(name, raw, dtype, datatype, data)


def _missing_as_nan(name: str, raw: np.ndarray, dtype: np.dtype[Any], datatype: str) -> np.ndarray:
    """JSON numbers holding nulls, as float64 with NaN for each null: the missing value of
    the float types. The other types have none, so a null there is refused."""
    if dtype.kind != "f":
        raise InvalidInput(
            f"input {name!r}: {datatype} has no missing value, got null; null (or NaN) is "
            "taken for FP16, FP32 and FP64 inputs only"
        )
    values = np.empty(raw.size, dtype=np.float64)
    for index, value in enumerate(raw.flat):
        if value is None:
            values[index] = math.nan
        elif type(value) in (int, float):  # not bool: true among numbers is refused
            values[index] = value
        else:
            raise InvalidInput(
                f"input {name!r}: {datatype} data must be numbers or null, got {value!r}"
            )
    return values.reshape(raw.shape)


def _integers(
    name: str, raw: np.ndarray, dtype: np.dtype[Any], datatype: str, data: Any
) -> np.ndarray:
    info = np.iinfo(dtype)
    out_of_range = InvalidInput(
        f"input {name!r}: a value is out of the {datatype} range [{info.min}, {info.max}]"
    )
    if raw.dtype.kind == "f":
        whole = np.isfinite(raw) & (raw == np.trunc(raw))
        if not whole.all():
            bad = raw[~whole].flat[0]
            raise InvalidInput(f"input {name!r}: {datatype} data holds non-integer value {bad}")
        if data is not None:  # whole numbers: read them again, exactly, as the target type
            try:
                return np.asarray(data, dtype=dtype)
            except (OverflowError, ValueError):
                raise out_of_range from None
        # float(info.max) + 1 is exact for every integer type, so the bound is exclusive.
        if not (raw.min() >= info.min and raw.max() < float(info.max) + 1):
            raise out_of_range
        return raw.astype(dtype)
    if int(raw.min()) < info.min or int(raw.max()) > info.max:
        raise out_of_range
    return raw.astype(dtype, copy=False)


def _first(raw: np.ndarray) -> Any:
    value = raw.flat[0]
    return value.item() if isinstance(value, np.generic) else value


def _strings(name: str, data: list[Any]) -> np.ndarray:
    try:
        array = np.asarray(data, dtype=object)
    except ValueError as exc:
        raise InvalidInput(f"input {name!r}: data is not a rectangular array: {exc}") from None
    for value in array.flat:
        if value is not None and not isinstance(value, str):  # None: a missing value
            raise InvalidInput(
                f"input {name!r}: BYTES data must be strings or null (or use the binary "
                f"extension), got {value!r}"
            )
    return array


def from_binary(
    name: str,
    datatype: str,
    shape: tuple[int, ...],
    buffer: memoryview,
    size_field: str = "binary_data_size",
) -> np.ndarray:
    """An array read from a Triton binary buffer of exactly the size its shape needs;
    `size_field` names where the client gave the buffer's size, for the error."""
    check_datatype(name, datatype)
    count = math.prod(shape)
    if datatype == "BYTES":
        return deserialize_bytes(name, buffer, count).reshape(shape)
    dtype = _WIRE_DTYPES[datatype]
    needed = count * dtype.itemsize
    if len(buffer) != needed:
        raise InvalidInput(
            f"input {name!r}: {size_field} is {len(buffer)} bytes but shape {list(shape)} "
            f"of {datatype} needs {needed}"
        )
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)


def deserialize_bytes(name: str, buffer: memoryview, count: int) -> np.ndarray:
    """BYTES elements, each a little-endian uint32 length followed by that many bytes."""
    items: list[bytes] = []
    offset, end = 0, len(buffer)
    while offset < end and len(items) < count:
        if offset + 4 > end:
            break
        (length,) = _LENGTH.unpack_from(buffer, offset)
        offset += 4
        if offset + length > end:
            offset = end + 1  # the element runs past the buffer
            break
        items.append(bytes(buffer[offset : offset + length]))
        offset += length
    if len(items) != count or offset != end:
        raise InvalidInput(
            f"input {name!r}: the BYTES binary data does not hold exactly {count} "
            "length-prefixed elements"
        )
    array = np.empty(count, dtype=object)
    array[:] = items
    return array


def serialize_bytes(array: np.ndarray) -> bytes:
    parts: list[bytes] = []
    for value in array.flat:
        raw = value if isinstance(value, bytes) else str(value).encode()
        parts.append(_LENGTH.pack(len(raw)))
        parts.append(raw)
    return b"".join(parts)


def to_binary(array: np.ndarray) -> bytes:
    if array.dtype == object or array.dtype.kind in "SU":
        return serialize_bytes(array)
    return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def to_json_data(array: np.ndarray) -> Any:
    """A flat array orjson serialises directly, or a list of str for BYTES."""
    flat = array.reshape(-1)
    if flat.dtype == object or flat.dtype.kind in "SU":
        return [_text(v) for v in flat]
    return flat


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
