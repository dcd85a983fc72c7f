"""control.model_mount: what a KServe-mounted dir becomes in the scratch repository, what
a restarted container does with its previous work, and the layouts refused, with why."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.control.model_mount import IMPORT_MARKER, mount_model
from model_repo.errors import ArtifactError, InvalidArgument, RepositoryError
from model_repo.repository import Repository
from tests.artifacts import publish_tiny, write_tiny_onnx


def versions_dir(folder: Path, versions: dict[int, float]) -> Path:
    for version, offset in versions.items():
        (folder / str(version)).mkdir(parents=True)
        write_tiny_onnx(folder / str(version) / "model.onnx", offset)
    return folder


def test_a_modelport_model_dir_is_linked_and_served_where_it_is(tmp_path: Path) -> None:
    source = Repository(tmp_path / "src")
    publish_tiny(source, "tiny", 1.0)
    publish_tiny(source, "tiny", 2.0)
    mounted = mount_model(tmp_path / "scratch", source.root / "tiny", "iris")
    assert (mounted.how, mounted.versions) == ("linked", [1, 2])
    assert (tmp_path / "scratch" / "iris").resolve() == (source.root / "tiny").resolve()
    scratch = Repository(tmp_path / "scratch")
    # The manifests are the originals: parity reports and sha256 checks included.
    assert scratch.verify("iris", 2).notes == {"offset": 2.0}


def test_numbered_versions_are_imported_keeping_their_numbers(tmp_path: Path) -> None:
    source = versions_dir(tmp_path / "mnt", {2: 1.0, 7: 2.0})
    mounted = mount_model(tmp_path / "scratch", source, "iris")
    assert (mounted.how, mounted.versions) == ("imported", [2, 7])
    assert Repository(tmp_path / "scratch").versions("iris") == [2, 7]


def test_a_restarted_container_mounts_again_over_its_own_leftovers(tmp_path: Path) -> None:
    """An emptyDir outlives the container: the second start finds the first one's import
    (and its link) and makes them again instead of failing on numbers already used."""
    imported = versions_dir(tmp_path / "mnt-a", {1: 1.0})
    scratch = tmp_path / "scratch"
    first = mount_model(scratch, imported, "a")
    again = mount_model(scratch, imported, "a")
    assert first.versions == again.versions == [1]
    assert (scratch / "a" / IMPORT_MARKER).read_text() == str(imported.resolve())
    source = Repository(tmp_path / "src")
    publish_tiny(source, "b")
    mount_model(scratch, source.root / "b", "b")
    assert mount_model(scratch, source.root / "b", "b").how == "linked"


def test_a_model_the_scratch_repo_already_holds_is_never_overwritten(tmp_path: Path) -> None:
    scratch = Repository(tmp_path / "scratch")
    publish_tiny(scratch, "iris", 1.0)
    source = versions_dir(tmp_path / "mnt", {1: 9.0})
    with pytest.raises(RepositoryError, match="already holds a model 'iris' that was not made"):
        mount_model(scratch.root, source, "iris")
    assert scratch.verify("iris", 1).notes == {"offset": 1.0}
    other = versions_dir(tmp_path / "mnt-other", {1: 3.0})
    mount_model(tmp_path / "scratch2", other, "m")
    with pytest.raises(RepositoryError, match="not made from"):
        mount_model(tmp_path / "scratch2", source, "m")  # imported from another dir


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "holds no model modelport can serve (it holds nothing)"),
        (["notes.txt"], "holds no model modelport can serve (it holds notes.txt)"),
        (["a.onnx", "b.pmml"], "holds several artifacts (a.onnx, b.pmml); one model per"),
    ],
)
def test_a_dir_without_exactly_one_model_is_refused(
    tmp_path: Path, files: list[str], message: str
) -> None:
    mounted = tmp_path / "mnt"
    mounted.mkdir()
    for name in files:
        (mounted / name).write_bytes(b"x")
    with pytest.raises(ArtifactError, match=re.escape(message)):
        mount_model(tmp_path / "scratch", mounted, "iris")
    assert not (tmp_path / "scratch" / "iris").exists()


def test_a_repository_of_models_is_not_one_model(tmp_path: Path) -> None:
    source = Repository(tmp_path / "repo")
    publish_tiny(source, "a")
    publish_tiny(source, "b")
    with pytest.raises(ArtifactError, match=r"a repository of models \(a, b\), not one model"):
        mount_model(tmp_path / "scratch", source.root, "iris")


def test_names_and_paths_are_checked_first(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=re.escape("model name '../x' is not valid")):
        mount_model(tmp_path / "scratch", tmp_path, "../x")
    with pytest.raises(ArtifactError, match="is not a directory: KServe's storage initializer"):
        mount_model(tmp_path / "scratch", tmp_path / "missing", "iris")


def test_a_version_that_does_not_open_leaves_nothing_behind(tmp_path: Path) -> None:
    source = versions_dir(tmp_path / "mnt", {1: 1.0, 2: 2.0})
    (source / "2" / "model.onnx").write_bytes(b"not an onnx model")
    with pytest.raises(ArtifactError):
        mount_model(tmp_path / "scratch", source, "iris")
    assert not (tmp_path / "scratch" / "iris").exists()
    assert Repository(tmp_path / "scratch").models() == []
