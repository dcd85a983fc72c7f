"""Read a parity sample from a file and fit it to the model's inputs.

Tabular samples (.csv, .parquet) are matched to inputs by column name; arrays (.npy) feed a
single-input model; .npz archives feed inputs by array name. A 1-D array feeds a [-1, 1]
input (a column of numbers, or of documents for a text model), as the gateway accepts
[N] for it. Whatever does not fit is reported with the input, the expected shape or type,
and what the file holds; values are cast only where the cast keeps them (see `casting`):
an empty cell of a number column is NaN, the missing value of FP32 inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from converters.base import Sample
from converters.casting import cast_exactly
from converters.errors import SampleMismatch
from model_repo.formats.base import Tensors
from model_repo.signature import TensorSpec

MAX_ROWS = 10_000
SUFFIXES = (".csv", ".parquet", ".npy", ".npz")


def load_sample(
    path: Path, specs: tuple[TensorSpec, ...], text_inputs: frozenset[str] = frozenset()
) -> Sample:
    """The sample in `path` fitted to `specs`. In a CSV an empty cell is a missing value,
    except in the `text_inputs` (documents a vectorizer reads), where it is an empty text."""
    if not path.is_file():
        raise SampleMismatch(f"sample file {path} does not exist")
    suffix = path.suffix.lower()
    data: Any
    if suffix in (".csv", ".parquet"):
        data = _read_frame(path)
        if suffix == ".csv":
            data = _with_empty_texts(path, data, _text_columns(data, specs, text_inputs))
    elif suffix == ".npy":
        data = _read_npy(path)
    elif suffix == ".npz":
        data = _read_npz(path)
    else:
        raise SampleMismatch(
            f"sample {path.name}: unsupported file type {suffix!r}; "
            f"use one of {', '.join(SUFFIXES)}"
        )
    return fit_sample(data, specs, path.name)


def fit_sample(data: Any, specs: tuple[TensorSpec, ...], name: str) -> Sample:
    """A sample of `data` (a DataFrame, one array, or arrays by name), read from the file
    called `name`, fitted to `specs` as a sample file would be."""
    if isinstance(data, np.ndarray):
        tensors = _from_array(data, specs, name)
    elif isinstance(data, dict):
        tensors = _from_arrays(data, specs, name)
    else:
        tensors = _from_frame(data, specs, name)
    rows = {t.shape[0] for t in tensors.values()}
    if len(rows) != 1:
        raise SampleMismatch(f"sample {name}: inputs have different row counts {sorted(rows)}")
    if rows == {0}:
        raise SampleMismatch(f"sample {name} has no rows")
    return Sample({k: v[:MAX_ROWS] for k, v in tensors.items()}, source=f"file:{name}")


def _read_frame(path: Path) -> Any:
    import pandas as pd

    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except ImportError as exc:
        raise SampleMismatch(f"reading {path.name} needs pyarrow: pip install pyarrow") from exc
    except Exception as exc:  # pandas raises ParserError, ValueError, OSError ...
        raise SampleMismatch(f"sample {path.name} cannot be read: {exc}") from exc


def _text_columns(
    frame: Any, specs: tuple[TensorSpec, ...], text_inputs: frozenset[str]
) -> list[str]:
    columns = [str(c) for c in frame.columns]
    if len(specs) == 1 and specs[0].name in text_inputs and specs[0].name not in columns:
        return columns  # the whole table is the one text input
    return [c for c in columns if c in text_inputs]


def _with_empty_texts(path: Path, frame: Any, columns: list[str]) -> Any:
    """`path` read again with `columns` as written: pandas reads an empty cell (even a
    quoted "") as missing, and "NA" or "null" too, where a document means them; and it skips
    a blank line, which in a one-column CSV is an empty document."""
    if not columns:
        return frame
    import pandas as pd

    try:
        frame = pd.read_csv(path, skip_blank_lines=False)
        texts = pd.read_csv(
            path, usecols=columns, dtype=str, keep_default_na=False, skip_blank_lines=False
        )
    except Exception as exc:  # the same file was readable a moment ago
        raise SampleMismatch(f"sample {path.name} cannot be read: {exc}") from exc
    return frame.assign(**{c: texts[c] for c in columns})


def _read_npy(path: Path) -> np.ndarray:
    try:
        array: np.ndarray = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise SampleMismatch(f"sample {path.name} is not a readable .npy array: {exc}") from exc
    return array


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError) as exc:
        raise SampleMismatch(f"sample {path.name} is not a readable .npz archive: {exc}") from exc


def _from_frame(frame: Any, specs: tuple[TensorSpec, ...], source: str) -> Tensors:
    columns = [str(c) for c in frame.columns]
    if len(specs) == 1 and specs[0].name not in columns and len(specs[0].shape) == 2:
        # One 2-D input (a model fitted on an array): the columns, in order, are its features.
        spec = specs[0]
        return {spec.name: _fit(frame.to_numpy(), spec, source, "the table")}
    missing = [s.name for s in specs if s.name not in columns]
    if missing:
        raise SampleMismatch(
            f"sample {source} lacks column(s) {', '.join(missing)}; the model takes "
            f"{', '.join(s.name for s in specs)}; the sample has {', '.join(columns)}"
        )
    tensors: Tensors = {}
    for spec in specs:
        column = frame[spec.name].to_numpy()
        values = column if len(spec.shape) == 1 else column.reshape(-1, 1)
        tensors[spec.name] = _fit(values, spec, source, f"column {spec.name!r}")
    return tensors


def _from_array(array: np.ndarray, specs: tuple[TensorSpec, ...], source: str) -> Tensors:
    if len(specs) != 1:
        names = ", ".join(s.name for s in specs)
        raise SampleMismatch(
            f"sample {source} is one array but the model has {len(specs)} inputs ({names}); "
            "give a .npz with one array per input, or a .csv with one column per input"
        )
    return _from_arrays({specs[0].name: array}, specs, source)


def _from_arrays(
    arrays: dict[str, np.ndarray], specs: tuple[TensorSpec, ...], source: str
) -> Tensors:
    missing = [s.name for s in specs if s.name not in arrays]
    if missing:
        raise SampleMismatch(
            f"sample {source} lacks array(s) {', '.join(missing)}; it has "
            f"{', '.join(arrays) or 'none'}"
        )
    return {s.name: _fit(arrays[s.name], s, source, f"array {s.name!r}") for s in specs}


def _fit(values: np.ndarray, spec: TensorSpec, source: str, what: str) -> np.ndarray:
    """`values` (what the file gives for `spec`) checked against its shape and cast."""
    if values.ndim == 1 and tuple(spec.shape) == (-1, 1):
        values = values.reshape(-1, 1)
    if not spec.accepts_shape(values.shape):
        raise SampleMismatch(
            f"sample {source}: {what} gives shape {list(values.shape)}, the model expects "
            f"{list(spec.shape)} for input {spec.name!r} (-1 = any size)"
        )
    return cast_exactly(values, spec.datatype, f"sample {source}: {what}")
