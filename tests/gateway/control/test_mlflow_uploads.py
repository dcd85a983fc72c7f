"""Uploads of archives holding an MLflow model directory: converted on the server, with the
pickle rule applied from what MLmodel says (the archive's name cannot tell)."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gateway.control.uploads import UploadPolicy, import_upload, plan_upload
from gateway.errors import Forbidden, InvalidInput
from model_repo.repository import Repository
from tests.mlflow_dirs import sklearn_dir


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, pd.DataFrame]:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    data = load_iris(as_frame=True)
    frame = data.data.set_axis(["a", "b", "c", "d"], axis=1)
    return DecisionTreeClassifier(max_depth=3, random_state=0).fit(frame, data.target), frame


def _tar(directory: Path) -> Path:
    archive = directory.parent / f"{directory.name}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(directory, arcname=directory.name)  # what `modelport push DIR` sends
    return archive


def _zip(directory: Path) -> Path:
    archive = directory.parent / f"{directory.name}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(directory.rglob("*")):
            zf.write(path, path.relative_to(directory).as_posix())  # files at the top
    return archive


def _upload(repo: Repository, archive: Path, to: str | None, policy: UploadPolicy) -> Any:
    plan = plan_upload(archive.name, to, policy)
    return import_upload(repo, "tree", plan, archive, policy)


def test_an_mlflow_skops_archive_is_converted_on_the_server(
    tmp_path: Path, fitted: tuple[Any, pd.DataFrame]
) -> None:
    model, frame = fitted
    archive = _tar(sklearn_dir(tmp_path / "tree_model", model, "skops", frame.head(4)))
    repo = Repository(tmp_path / "repo")
    manifest = _upload(repo, archive, "onnx", UploadPolicy())
    assert manifest.provenance.converter == "sklearn_onnx"
    assert manifest.provenance.source_file == "tree_model"
    assert manifest.notes["mlflow"]["serialization"] == "skops"
    assert manifest.parity is not None and manifest.parity.passed
    assert repo.versions("tree") == [1]


def test_a_pickled_mlflow_archive_is_forbidden_unless_the_operator_allows_pickles(
    tmp_path: Path, fitted: tuple[Any, pd.DataFrame]
) -> None:
    model, frame = fitted
    archive = _zip(sklearn_dir(tmp_path / "pickled", model, "pickle", frame.head(4)))
    repo = Repository(tmp_path / "repo")
    with pytest.raises(Forbidden, match=r"serialized with pickle \(model.pkl\).*--allow-pickle"):
        _upload(repo, archive, "onnx", UploadPolicy())
    assert repo.models() == []
    manifest = _upload(repo, archive, "onnx", UploadPolicy(allow_pickle=True))
    assert manifest.notes["mlflow"]["serialization"] == "pickle"


def test_an_mlflow_archive_without_a_target_format_says_to_add_one(
    tmp_path: Path, fitted: tuple[Any, pd.DataFrame]
) -> None:
    model, frame = fitted
    archive = _tar(sklearn_dir(tmp_path / "no_target", model, "skops", frame.head(4)))
    with pytest.raises(InvalidInput, match="holds an MLflow sklearn model: add the form field"):
        _upload(Repository(tmp_path / "repo"), archive, None, UploadPolicy())
