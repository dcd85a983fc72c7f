"""Cast a sample's values to an input's datatype, refusing any cast that would change them.

A parity check is only as good as its sample: a value silently changed on the way in (1.7
truncated to 1, a missing cell turned into the text "nan" or into an integer, 2 into True)
checks the model on data nobody gave it. So a value the target datatype cannot hold is an
error naming the input, the problem and the first such value:
- integers: floats must be whole, finite and in range; integers must be in range;
- BOOL: true/false, or the numbers 0 and 1;
- floats: anything numeric, rounded to the nearest float as float64 -> float32 always is
  (the FP32 contract), but a finite value must stay finite (1e40 is not FP32's inf); a
  missing cell (NaN, or the None / pandas.NA of a nullable column) is NaN, the missing value
  of FP32 inputs;
- BYTES: text; integers become their decimal text; missing values and other numbers are
  refused (1.0 would become "1.0", which matches no category "1").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from converters.errors import SampleMismatch
from model_repo.signature import numpy_dtype


def cast_exactly(values: np.ndarray, datatype: str, what: str) -> np.ndarray:
    """`values` as `datatype` (a V2 name), or SampleMismatch naming `what` (e.g. "sample
    s.csv: column 'age'") and the values the cast would have changed."""
    if datatype == "BYTES":
        return _as_text(values, what)
    array = _as_numbers(values, datatype, what)
    target = numpy_dtype(datatype)
    if target.kind == "b":
        bad, problem = ~np.isin(array, (0, 1)), "are neither true/false nor 0/1"
    elif target.kind in "iu":
        bad, problem = _integer_losses(array, target)
    else:
        with np.errstate(over="ignore"):
            bad = np.isfinite(array) & ~np.isfinite(array.astype(target))
        problem = f"are beyond the range of {datatype}"
    if bad.any():
        _refuse(array, bad, what, datatype, problem)
    return array.astype(target)


def _as_numbers(values: np.ndarray, datatype: str, what: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind == "O":  # a pandas column of mixed objects: let numpy type them
        cells = [np.nan if _is_missing(v) else v for v in array.ravel().tolist()]
        array = np.asarray(cells).reshape(array.shape)
    if array.dtype.kind in "biuf":
        return array
    # Text (a column pandas read as strings because one cell is not a number): numbers
    # written as text are read as numbers, and the cells that are not are named.
    flags = [not _reads_as_number(v) for v in array.ravel().tolist()]
    if any(flags):
        _refuse(array, _mask(flags, array), what, datatype, "are not numbers")
    return array.astype(np.float64)


def _is_missing(value: Any) -> bool:
    """None, and pandas' NA (a nullable Float64/Int64 column's missing cell), by its type's
    name so that casting needs no pandas."""
    return value is None or type(value).__name__ == "NAType"


def _reads_as_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _integer_losses(array: np.ndarray, target: np.dtype[Any]) -> tuple[np.ndarray, str]:
    info = np.iinfo(target)
    if array.dtype.kind == "b":
        return np.zeros(array.shape, dtype=bool), ""
    if array.dtype.kind == "f":
        missing = ~np.isfinite(array)
        if missing.any():
            return missing, "are missing (NaN) or infinite"
        fraction = array != np.floor(array)
        if fraction.any():
            return fraction, "are not whole numbers"
        # float(info.max) + 1 is a power of two, so exact: no rounding at the top of int64.
        return (array < info.min) | (array >= float(info.max) + 1), f"are outside {target}"
    if array.size == 0 or (info.min <= int(array.min()) and int(array.max()) <= info.max):
        return np.zeros(array.shape, dtype=bool), ""
    # Python ints compare exactly across int64/uint64, where numpy would promote to float.
    outside = [not info.min <= v <= info.max for v in array.ravel().tolist()]
    return _mask(outside, array), f"are outside {target}"


def _as_text(values: np.ndarray, what: str) -> np.ndarray:
    flat = np.asarray(values).ravel().tolist()
    missing = [v is None or (isinstance(v, float) and v != v) for v in flat]
    if any(missing):
        _refuse(values, _mask(missing, values), what, "BYTES", "are missing (empty cells)")
    numbers = [isinstance(v, float) for v in flat]
    if any(numbers):
        _refuse(values, _mask(numbers, values), what, "BYTES", "are numbers, not text")
    try:
        text = [v.decode() if isinstance(v, bytes) else str(v) for v in flat]
    except UnicodeDecodeError as exc:
        raise SampleMismatch(f"{what} must be BYTES (text), but holds non-UTF-8 bytes") from exc
    return np.asarray(text, dtype=object).reshape(np.shape(values))


def _mask(flags: list[bool], values: np.ndarray) -> np.ndarray:
    return np.asarray(flags, dtype=bool).reshape(np.shape(values))


def _refuse(values: np.ndarray, bad: np.ndarray, what: str, datatype: str, problem: str) -> None:
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    value = np.asarray(values)[first]
    value = value.item() if isinstance(value, np.generic) else value  # 1.5, not np.float64(1.5)
    raise SampleMismatch(
        f"{what} must be {datatype}, but {int(bad.sum())} of its values {problem} (first: "
        f"{value!r} at row {first[0]}); casting would change them, so fix the sample"
    )
