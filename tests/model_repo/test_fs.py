"""The filesystem primitives under the repository: hashing, atomic writes, durable mkdir."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from model_repo import AliasTarget, ArtifactError, IntegrityError, Repository
from model_repo._fs import hash_tree, write_atomic
from tests.artifacts import publish_tiny, write_tiny_onnx


@pytest.fixture
def umask_027() -> Iterator[int]:
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("link", ["dir", "file"])
def test_hash_tree_refuses_a_symlink_naming_it(tmp_path: Path, link: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "weights.bin").write_bytes(b"w")
    artifact = tmp_path / "artifact"
    artifact.mkdir()
    (artifact / "model.pb").write_bytes(b"m")
    target = outside if link == "dir" else outside / "weights.bin"
    (artifact / "linked").symlink_to(target)
    with pytest.raises(ArtifactError, match=r"artifact/linked is a symbolic link"):
        hash_tree(artifact)


def test_publishing_an_artifact_with_a_linked_dir_is_refused(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    (tmp_path / "outside").mkdir()
    with pytest.raises(ArtifactError, match="variables is a symbolic link"), repo.stage("m") as st:
        write_tiny_onnx(st.path / "model.onnx")
        (st.path / "variables").symlink_to(tmp_path / "outside")
        st.file_hashes()
    assert repo.versions("m") == []


def test_a_linked_dir_planted_in_a_published_version_fails_verification(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "repo")
    publish_tiny(repo, "adder")
    (tmp_path / "outside").mkdir()
    (repo.version_dir("adder", 1) / "extra").symlink_to(tmp_path / "outside")
    with pytest.raises(IntegrityError, match="extra is a symbolic link"):
        repo.verify("adder", 1)


def test_write_atomic_creates_files_as_the_umask_says(tmp_path: Path, umask_027: int) -> None:
    write_atomic(tmp_path / "doc.json", b"{}")
    assert _mode(tmp_path / "doc.json") == 0o640
    os.umask(0o022)
    write_atomic(tmp_path / "doc.json", b"{}")  # a replaced file takes the new mode too
    assert _mode(tmp_path / "doc.json") == 0o644


def test_repository_documents_are_readable_like_normal_files(
    tmp_path: Path, umask_027: int
) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    repo.set_alias("adder", "stable", AliasTarget(version=1))
    for name in ("aliases.json", ".last_version"):
        assert _mode(tmp_path / "adder" / name) == 0o640, name


def test_publishing_a_new_model_makes_its_dir_entry_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records which directories get fsynced; the fsyncs themselves still happen."""
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(str(Path(f"/proc/self/fd/{fd}").readlink()))
        real_fsync(fd)

    repo = Repository(tmp_path / "repo")
    publish_tiny(repo, "first")  # creates the root itself
    monkeypatch.setattr(os, "fsync", recording_fsync)
    publish_tiny(repo, "adder")
    root, model_dir = str(tmp_path / "repo"), str(tmp_path / "repo" / "adder")
    assert root in synced  # the new model dir's entry in the root
    assert model_dir in synced  # the version dir's entry in the model dir
    synced.clear()
    publish_tiny(repo, "adder")
    assert root not in synced  # nothing new in the root the second time
    assert model_dir in synced
