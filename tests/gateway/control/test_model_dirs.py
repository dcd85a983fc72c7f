"""Importing TF Serving and Triton layouts keeps their version numbers; what does not open
publishes nothing, and a number the model already had is refused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from gateway.control.model_dirs import import_path, import_versions
from model_repo import Repository
from model_repo.errors import ArtifactError, Conflict, InvalidArgument
from tests.artifacts import publish_tiny, write_tiny_onnx


def _triton_model(folder: Path, versions: dict[str, float], config: str | None = None) -> Path:
    """`folder/<version>/model.onnx` computing x + offset, and a config.pbtxt if given."""
    for version, offset in versions.items():
        (folder / version).mkdir(parents=True)
        write_tiny_onnx(folder / version / "model.onnx", offset)
    if config is not None:
        (folder / "config.pbtxt").write_text(config)
    return folder


def _offset(repo: Repository, name: str, version: int) -> float:
    _, predictor = repo.open(name, version)
    try:
        y = predictor.predict({"x": np.zeros((1, 2), np.float32)})["y"]
    finally:
        predictor.close()
    return float(y[0, 0])


def test_a_triton_model_keeps_its_numbers(tmp_path: Path) -> None:
    model = _triton_model(tmp_path / "adder", {"1": 1.0, "3": 3.0, "0007": 7.0})
    (model / "labels.txt").write_text("not a version")  # ignored, as Triton ignores it
    (model / "notes").mkdir()
    repo = Repository(tmp_path / "repo")
    published = import_versions(repo, model, "adder")
    assert [m.version for m in published] == [1, 3, 7] == repo.versions("adder")
    assert [_offset(repo, "adder", v) for v in (1, 3, 7)] == [1.0, 3.0, 7.0]
    assert published[1].provenance.source_file == "adder/3/model.onnx"
    assert publish_tiny(repo, "adder").version == 8  # the count goes on above the import


def test_a_triton_repository_imports_each_model_under_its_name(tmp_path: Path) -> None:
    config = 'name: "renamed"\nplatform: "onnxruntime_onnx"\ndefault_model_filename: "m.onnx"\n'
    root = tmp_path / "triton"
    _triton_model(root / "plain", {"2": 2.0})
    configured = _triton_model(root / "renamed", {"5": 5.0}, config)
    (configured / "5" / "model.onnx").rename(configured / "5" / "m.onnx")
    repo = Repository(tmp_path / "repo")
    published = import_path(repo, root)
    assert {m: [x.version for x in found] for m, found in published.items()} == {
        "plain": [2],
        "renamed": [5],
    }


def test_a_version_that_does_not_open_publishes_none(tmp_path: Path) -> None:
    model = _triton_model(tmp_path / "adder", {"1": 1.0, "2": 2.0})
    (model / "2" / "model.onnx").write_bytes(b"not onnx")
    repo = Repository(tmp_path / "repo")
    with pytest.raises(ArtifactError):
        import_versions(repo, model, "adder")
    assert repo.versions("adder") == []


def test_numbers_the_model_already_had_are_refused_before_any_work(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    publish_tiny(repo, "adder", version=4)
    model = _triton_model(tmp_path / "adder", {"3": 3.0, "9": 9.0})
    with pytest.raises(Conflict, match="as version 3: versions are never reused"):
        import_versions(repo, model, "adder")
    assert repo.versions("adder") == [4]


@pytest.mark.parametrize(
    ("layout", "error", "phrase"),
    [
        ({"1": "model.bin"}, ArtifactError, "holds no artifact: looked for model.onnx"),
        ({"1": "model.onnx", "01": "model.onnx"}, ArtifactError, "are both version 1"),
        ({"0": "model.onnx"}, ArtifactError, "version 0 is not a version number"),
    ],
)
def test_layouts_that_cannot_be_imported_are_named(
    tmp_path: Path, layout: dict[str, str], error: type[Exception], phrase: str
) -> None:
    model = tmp_path / "m"
    for version, filename in layout.items():
        (model / version).mkdir(parents=True)
        write_tiny_onnx(model / version / filename)
    with pytest.raises(error, match=phrase):
        import_versions(Repository(tmp_path / "repo"), model, "m")


def test_an_unknown_triton_platform_is_named(tmp_path: Path) -> None:
    model = _triton_model(tmp_path / "m", {"1": 1.0}, 'platform: "tensorrt_plan"\n')
    with pytest.raises(ArtifactError, match="platform 'tensorrt_plan' is not one modelport"):
        import_versions(Repository(tmp_path / "repo"), model, "m")


def test_one_artifact_takes_the_number_asked_for(tmp_path: Path) -> None:
    write_tiny_onnx(tmp_path / "adder.onnx", 2.0)
    repo = Repository(tmp_path / "repo")
    assert import_path(repo, tmp_path / "adder.onnx", version=40)["adder"][0].version == 40
    with pytest.raises(InvalidArgument, match="keep their numbers"):
        import_path(repo, _triton_model(tmp_path / "t", {"1": 1.0}), version=3)


@pytest.mark.tensorflow
@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="tensorflow extra")
def test_a_tf_serving_model_base_path_of_tf1_saved_models(tmp_path: Path) -> None:
    from tests.integration.tfserving_models import half_plus_three

    base = half_plus_three(tmp_path / "models")
    repo = Repository(tmp_path / "repo")
    (manifest,) = import_path(repo, base)["saved_model_half_plus_three"]
    assert manifest.version == 123 and manifest.format == "savedmodel"
    _, predictor = repo.open("saved_model_half_plus_three", 123)
    try:
        y = predictor.predict({"x": np.array([1.0, 2.0, 5.0], np.float32)})["y"]
    finally:
        predictor.close()
    assert y.tolist() == [3.5, 4.0, 5.5]
