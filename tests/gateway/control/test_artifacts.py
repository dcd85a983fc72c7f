"""Importing a ready-made artifact: names are checked before anything is published; an ONNX
model onnxruntime refuses is published only as a checked rewrite."""

from __future__ import annotations

from pathlib import Path

import pytest

from converters.errors import ConversionError
from gateway.control.artifacts import import_artifact
from model_repo import InvalidArgument, Repository
from model_repo.repository import source_digest
from tests.artifacts import onnx_backend_case, write_tiny_onnx


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


def test_an_old_opset_upload_is_published_upgraded_with_the_check_in_its_manifest(
    tmp_path: Path,
) -> None:
    model, _inputs, _outputs = onnx_backend_case("test_BatchNorm2d_eval")
    repo = Repository(tmp_path / "repo")
    manifest = import_artifact(repo, model, "bn", "onnx", source_name="bn.onnx")

    stored = repo.manifest("bn", manifest.version)  # read back from manifest.json
    assert stored.provenance.converter == "onnx.version_converter"
    assert stored.provenance.source_sha256 == source_digest(model)  # of what was uploaded
    assert stored.notes["opset_upgrade"]["from_opset"] == 6
    assert stored.parity is not None and stored.parity.passed
    assert stored.parity.sample_source.startswith("synthesized from the graph's inputs")
    assert set(stored.provenance.libraries) >= {"onnx", "onnxruntime", "modelport"}
    repo.verify("bn", manifest.version)  # the sha256 recorded is that of the upgraded file
    served = repo.version_dir("bn", manifest.version) / "model.onnx"
    assert served.read_bytes() != model.read_bytes()


def test_an_upload_whose_upgrade_fails_publishes_nothing(tmp_path: Path) -> None:
    model, _inputs, _outputs = onnx_backend_case("test_PReLU_1d_multiparam")
    repo = Repository(tmp_path / "repo")
    with pytest.raises(ConversionError, match="PRelu-6 -> PRelu-16"):
        import_artifact(repo, model, "prelu", "onnx")
    assert repo.models() == []
