"""Writes to unknown models, and broken stored documents, end in the repository's own errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from model_repo import (
    AliasTarget,
    ArtifactError,
    InvalidArgument,
    Manifest,
    ModelConfig,
    NotFound,
    Repository,
    RepositoryError,
)
from tests.artifacts import publish_tiny

WRITES: dict[str, Callable[[Repository], object]] = {
    "set_alias": lambda repo: repo.set_alias("ghost", "stable", AliasTarget(version=1)),
    "delete_alias": lambda repo: repo.delete_alias("ghost", "stable"),
    "set_config": lambda repo: repo.set_config("ghost", ModelConfig()),
    "delete_version": lambda repo: repo.delete_version("ghost", 1),
    "release": lambda repo: repo.releases.set("r", {"adder": 1, "ghost": 1}),
}


@pytest.mark.parametrize("write", WRITES)
def test_a_write_to_an_unknown_model_is_refused_and_creates_nothing(
    tmp_path: Path, write: str
) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(NotFound, match="model 'ghost' not found"):
        WRITES[write](repo)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert repo.models() == ["adder"]


def test_a_non_ascii_digit_is_not_a_version(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    (tmp_path / "adder" / "²").mkdir()  # "²".isdigit() is True, int("²") fails
    (tmp_path / "adder" / "²" / "manifest.json").write_text("{}")
    assert repo.versions("adder") == [1]
    with pytest.raises(NotFound, match="model 'adder' has no alias '²'"):
        repo.resolve("adder", "²")
    assert repo.resolve("adder", "1") == 1


@pytest.mark.parametrize(
    "stored",
    [
        "{",
        "[1, 2]",
        "null",
        '{"stable": 5}',
        '{"stable": {"version": 1e999}}',
        '{"stable": {"version": 1, "shadow": {"version": 2, "percent": 1e999}}}',
        '{"not an alias!": {"version": 1}}',
    ],
)
def test_a_broken_alias_file_is_a_repository_error_naming_it(tmp_path: Path, stored: str) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    (tmp_path / "adder" / "aliases.json").write_text(stored)
    with pytest.raises(RepositoryError, match=r"adder/aliases\.json is corrupt"):
        repo.aliases("adder")


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ("[1, 2]", "it holds an array, not a JSON object"),
        ('"text"', "it holds a string, not a JSON object"),
        ("null", "it holds null, not a JSON object"),
        ("{", "not valid JSON"),
        ('{"name": "m"}', "lacks the field 'version'"),
    ],
)
def test_a_broken_manifest_is_an_artifact_error_naming_it(
    tmp_path: Path, stored: str, message: str
) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(stored)
    with pytest.raises(ArtifactError, match=rf"manifest {re.escape(str(path))}.*{message}"):
        Manifest.load(path)


def test_a_manifest_field_of_the_wrong_type_is_an_artifact_error(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    path = tmp_path / "adder" / "1" / "manifest.json"
    path.write_text(path.read_text().replace('"signature": {', '"signature": [{', 1) + "]")
    with pytest.raises(ArtifactError, match=r"adder/1/manifest\.json"):
        repo.manifest("adder", 1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"preserve": ["resources"]}, "preserve must be 'availability' or 'resources'"),
        ({"preserve": {"a": 1}}, "preserve must be 'availability' or 'resources'"),
        ({"runtime": {"allow_spinning": 1}}, "allow_spinning must be true or false"),
        ({"runtime": {"allow_spinning": 0}}, "allow_spinning must be true or false"),
    ],
)
def test_config_fields_of_the_wrong_type_name_the_field(body: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        ModelConfig.from_dict(body)


def test_a_stored_config_of_the_wrong_type_is_a_repository_error(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    (tmp_path / "adder" / "config.json").write_text('{"preserve": ["resources"]}')
    with pytest.raises(RepositoryError, match=r"config\.json is not a valid model config"):
        repo.config("adder")


def test_a_corrupt_version_counter_is_a_repository_error(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "adder")
    (tmp_path / "adder" / ".last_version").write_text("²")
    with pytest.raises(RepositoryError, match=r"\.last_version is corrupt"):
        publish_tiny(repo, "adder")
    assert repo.versions("adder") == [1]
