"""Importing a ready-made artifact: names are checked before anything is published."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.control.artifacts import import_artifact
from model_repo import InvalidArgument, Repository
from tests.artifacts import write_tiny_onnx


@pytest.fixture
def onnx_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.onnx"
    write_tiny_onnx(path)
    return path


@pytest.mark.parametrize("alias", ["3", "no spaces", "x" * 65])
def test_a_bad_alias_publishes_nothing(tmp_path: Path, onnx_file: Path, alias: str) -> None:
    repo = Repository(tmp_path / "repo")
    with pytest.raises(InvalidArgument, match="alias"):
        import_artifact(repo, onnx_file, "tiny", "onnx", alias=alias)
    assert repo.models() == []


def test_a_bad_model_name_is_refused_before_the_file_is_read(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    with pytest.raises(InvalidArgument, match="model name"):
        import_artifact(repo, tmp_path / "absent.onnx", "../escape", "onnx")
    assert repo.models() == []


def test_a_good_alias_points_at_the_new_version(tmp_path: Path, onnx_file: Path) -> None:
    repo = Repository(tmp_path / "repo")
    manifest = import_artifact(repo, onnx_file, "tiny", "onnx", alias="canary")
    assert repo.resolve("tiny", "canary") == manifest.version
