"""Sample files fitted to a model's inputs: shapes checked, values cast only when exact."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from converters.errors import SampleMismatch
from converters.samples import load_sample
from model_repo.signature import TensorSpec


def _csv(tmp_path: Path, columns: dict[str, list[object]]) -> Path:
    path = tmp_path / "sample.csv"
    pd.DataFrame(columns).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("datatype", "values", "message"),
    [
        ("INT64", [1.0, 2.5], "column 'n' must be INT64, but 1 of its values are not whole "),
        ("INT64", [1.0, None], "are missing (NaN) or infinite (first: nan at row 1)"),
        ("INT8", [1, 300], "are outside int8 (first: 300 at row 1)"),
        ("UINT8", [1, -1], "are outside uint8 (first: -1 at row 1)"),
        ("BOOL", [0, 2], "are neither true/false nor 0/1 (first: 2 at row 1)"),
        ("BOOL", [1.0, None], "are neither true/false nor 0/1 (first: nan at row 1)"),
        ("FP32", [1.0, 1e40], "are beyond the range of FP32 (first: 1e+40 at row 1)"),
        ("FP32", ["1.5", "big"], "are not numbers (first: 'big' at row 1)"),
        ("BYTES", ["red", None], "are missing (empty cells) (first: nan at row 1)"),
        ("BYTES", [1.5, 2.0], "column 'n' must be BYTES, but 2 of its values are numbers"),
    ],
)
def test_a_cast_that_would_change_a_value_is_refused(
    tmp_path: Path, datatype: str, values: list[object], message: str
) -> None:
    path = _csv(tmp_path, {"n": values})
    with pytest.raises(SampleMismatch, match=re.escape(message)):
        load_sample(path, (TensorSpec("n", datatype, (-1, 1)),))


@pytest.mark.parametrize(
    ("datatype", "values", "expected"),
    [
        ("INT64", [1.0, -2.0], np.array([[1], [-2]], dtype=np.int64)),
        ("BOOL", [1, 0], np.array([[True], [False]])),
        ("FP32", [1, 2], np.array([[1.0], [2.0]], dtype=np.float32)),
        ("BYTES", [7, 8], np.array([["7"], ["8"]], dtype=object)),
        ("BYTES", ["nan", "red"], np.array([["nan"], ["red"]], dtype=object)),
    ],
)
def test_a_cast_that_keeps_the_values_is_made(
    tmp_path: Path, datatype: str, values: list[object], expected: np.ndarray
) -> None:
    path = tmp_path / "sample.npz"
    np.savez(path, n=np.asarray(values).reshape(-1, 1))
    got = load_sample(path, (TensorSpec("n", datatype, (-1, 1)),)).tensors["n"]
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_missing_text_in_a_csv_is_not_read_as_the_word_nan(tmp_path: Path) -> None:
    path = _csv(tmp_path, {"color": ["red", None, "blue"]})
    with pytest.raises(SampleMismatch, match=r"column 'color' must be BYTES.*missing"):
        load_sample(path, (TensorSpec("color", "BYTES", (-1, 1)),))


def test_a_column_for_a_wider_input_is_refused_with_both_shapes(tmp_path: Path) -> None:
    path = _csv(tmp_path, {"x": [1.0, 2.0], "y": [3.0, 4.0]})
    specs = (TensorSpec("x", "FP32", (-1, 3)), TensorSpec("y", "FP32", (-1, 1)))
    with pytest.raises(
        SampleMismatch,
        match=re.escape("column 'x' gives shape [2, 1], the model expects [-1, 3] for input 'x'"),
    ):
        load_sample(path, specs)


def test_a_table_for_one_array_input_must_have_its_width(tmp_path: Path) -> None:
    path = _csv(tmp_path, {"a": [1.0], "b": [2.0], "c": [3.0]})
    with pytest.raises(
        SampleMismatch,
        match=re.escape(
            "the table gives shape [1, 3], the model expects [-1, 6] for input 'input'"
        ),
    ):
        load_sample(path, (TensorSpec("input", "FP32", (-1, 6)),))


def test_missing_numbers_are_nan_whatever_the_file_calls_them(tmp_path: Path) -> None:
    path = tmp_path / "sample.parquet"
    pd.DataFrame(
        {
            "nullable": pd.array([1.5, None, 2.0], dtype="Float64"),  # pandas.NA
            "objects": pd.Series([1.5, None, 2.0], dtype=object),  # None
            "floats": [1.5, np.nan, 2.0],
        }
    ).to_parquet(path)
    specs = tuple(TensorSpec(n, "FP32", (-1, 1)) for n in ("nullable", "objects", "floats"))
    tensors = load_sample(path, specs).tensors
    for name in ("nullable", "objects", "floats"):
        assert tensors[name].dtype == np.float32
        np.testing.assert_array_equal(np.isnan(tensors[name]).ravel(), [False, True, False])


def test_a_one_dimensional_array_feeds_a_column_input(tmp_path: Path) -> None:
    path = tmp_path / "docs.npy"
    np.save(path, np.asarray(["a cat", "", "DOGS!"]))
    got = load_sample(path, (TensorSpec("input", "BYTES", (-1, 1)),)).tensors["input"]
    assert got.shape == (3, 1) and got.dtype == object
    assert got.ravel().tolist() == ["a cat", "", "DOGS!"]


def test_empty_cells_of_a_text_input_are_empty_documents(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text('review,stars\ngood,1\n,2\n"",3\nNA,4\nnull,\n', encoding="utf-8")
    specs = (TensorSpec("review", "BYTES", (-1, 1)), TensorSpec("stars", "FP32", (-1, 1)))
    tensors = load_sample(path, specs, text_inputs=frozenset({"review"})).tensors
    assert tensors["review"].ravel().tolist() == ["good", "", "", "NA", "null"]
    np.testing.assert_array_equal(np.isnan(tensors["stars"]).ravel(), [0, 0, 0, 0, 1])
    with pytest.raises(SampleMismatch, match=r"column 'review' must be BYTES.*missing"):
        load_sample(path, specs)  # a category column: an empty cell is a missing value


def test_a_blank_line_of_a_one_column_text_csv_is_an_empty_document(tmp_path: Path) -> None:
    path = tmp_path / "docs.csv"
    pd.DataFrame({"text": ["first", "", "third"]}).to_csv(path, index=False)
    specs = (TensorSpec("input", "BYTES", (-1, 1)),)
    got = load_sample(path, specs, text_inputs=frozenset({"input"})).tensors["input"]
    assert got.ravel().tolist() == ["first", "", "third"]
