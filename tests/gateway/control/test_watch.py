"""Change detection from stat() calls: what counts as a change, and what does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.control import watch
from gateway.control.watch import RepositoryWatch
from model_repo.aliases import AliasTarget
from model_repo.model_config import ModelConfig, VersionPolicy
from model_repo.repository import Repository
from tests.artifacts import publish_tiny


@pytest.fixture(autouse=True)
def trust_every_timestamp(monkeypatch: pytest.MonkeyPatch) -> None:
    """The racy window would report every fresh change twice; these tests look at once."""
    monkeypatch.setattr(watch, "RACY_NS", -(10**18))


def test_every_kind_of_change_is_seen_once(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "a")
    publish_tiny(repo, "b")
    looking = RepositoryWatch(repo)
    assert looking.look().models == {"a", "b"}  # the first look: everything
    assert looking.look().models == set()
    publish_tiny(repo, "a", 2.0)
    assert looking.look().models == {"a"}
    repo.set_alias("b", "stable", AliasTarget(version=1))
    assert looking.look().models == {"b"}
    repo.set_config("a", ModelConfig(VersionPolicy(latest=2)))
    assert looking.look().models == {"a"}
    (tmp_path / "b" / "aliases.json").write_text("{}")  # edited in place
    assert looking.look().models == {"b"}
    repo.delete_version("a", 1)
    assert looking.look().models == {"a"}
    shutil.rmtree(tmp_path / "b")
    assert looking.look().models == {"b"}
    changes = looking.look()
    assert changes.models == set() and not changes.releases
    repo.releases.set("r", {"a": 2})
    assert looking.look().releases


def test_a_version_copied_in_by_hand_is_seen_when_its_manifest_arrives(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    first = publish_tiny(repo, "m")
    looking = RepositoryWatch(repo)
    looking.look()
    copy = tmp_path / "m" / "2"
    copy.mkdir()
    shutil.copy(repo.artifact_path("m", first.version), copy / "model.onnx")
    assert looking.look().models == {"m"}  # the new dir
    assert repo.versions("m") == [1]  # not a version yet
    assert looking.look().models == set()
    shutil.copy(tmp_path / "m" / "1" / "manifest.json", copy / "manifest.json")
    assert looking.look().models == {"m"}  # the manifest, inside the dir
    assert repo.versions("m") == [1, 2]


def test_a_change_inside_the_racy_window_is_reported_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "RACY_NS", 60 * 10**9)
    repo = Repository(tmp_path)
    publish_tiny(repo, "m")
    looking = RepositoryWatch(repo)
    assert looking.look().models == {"m"}
    assert looking.look().models == {"m"}  # young: not trusted yet
