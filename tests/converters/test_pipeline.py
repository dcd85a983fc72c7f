"""The conversion flow around the converters: what is checked up front, what a failing
source model gives, through the real skl2onnx and onnxruntime."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from converters.errors import ConversionError
from converters.pipeline import convert_file
from model_repo import InvalidArgument, Repository


@pytest.fixture(scope="module")
def linear_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import skops.io
    from sklearn.linear_model import LinearRegression

    x = np.random.default_rng(0).normal(size=(50, 2))
    path = tmp_path_factory.mktemp("pipeline") / "linear.skops"
    skops.io.dump(LinearRegression().fit(x, x @ [1.0, 2.0]), path)
    return path


@pytest.mark.parametrize("alias", ["7", "has space", "a/b"])
def test_a_bad_alias_is_refused_before_anything_is_published(
    tmp_path: Path, linear_file: Path, alias: str
) -> None:
    repo = Repository(tmp_path)
    with pytest.raises(InvalidArgument, match=re.escape(f"alias {alias!r} is not valid")):
        convert_file(repo, linear_file, "linear", "onnx", alias=alias)
    assert repo.models() == []


def test_a_bad_model_name_is_refused_before_the_model_is_loaded(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="model name '-x' is not valid"):
        convert_file(Repository(tmp_path), tmp_path / "absent.skops", "-x", "onnx")


def test_a_source_model_failing_on_the_sample_is_a_clear_error(
    tmp_path: Path, linear_file: Path
) -> None:
    # LinearRegression refuses NaN, which the ONNX graph takes: only the source side fails.
    sample = tmp_path / "holes.csv"
    pd.DataFrame({"a": [1.0, None], "b": [2.0, 3.0]}).to_csv(sample, index=False)
    repo = Repository(tmp_path / "repo")
    with pytest.raises(ConversionError) as info:
        convert_file(repo, linear_file, "linear", "onnx", sample_path=sample)
    message = str(info.value)
    assert message.startswith(
        "the source sklearn model linear.skops fails on the parity sample (file:holes.csv): "
        "ValueError: Input X contains NaN."
    )
    assert "Nothing was published; check that the sample holds values" in message
    assert repo.models() == []


def test_an_artifact_its_own_runtime_refuses_is_a_failed_conversion(
    tmp_path: Path, linear_file: Path
) -> None:
    # No converter is known to write such an artifact any more; a staged file onnxruntime
    # cannot read stands in for one, and check_parity must say so without the staging path.
    from converters.base import Export, Sample, SourceModel
    from converters.pipeline import check_parity
    from converters.registry import get_converter
    from model_repo.signature import Signature, TensorSpec

    repo = Repository(tmp_path / "repo")
    signature = Signature(
        (TensorSpec("input", "FP32", (-1, 2)),), (TensorSpec("prediction", "FP32", (-1,)),)
    )
    source = SourceModel("sklearn", object(), linear_file, "skops")
    sample = Sample({"input": np.zeros((2, 2), np.float32)}, "synthesized:zeros")
    with repo.stage("linear") as staging:
        (staging.path / "model.onnx").write_bytes(b"not an onnx graph")
        with pytest.raises(ConversionError) as info:
            check_parity(
                get_converter("sklearn", "onnx"), source, sample, Export(signature), staging, False
            )
    message = str(info.value)
    assert message.startswith(
        "the converted onnx artifact of linear.skops cannot be opened by its runtime ("
    )
    assert "nothing was published" in message
    assert ".staging" not in message
    assert repo.models() == []
