"""Model configs (version policies), release groups and shadow alias targets in the repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_repo import AliasTarget, Conflict, InvalidArgument, NotFound, Repository
from model_repo.aliases import Shadow
from model_repo.errors import RepositoryError
from model_repo.model_config import ModelConfig, Preserve, VersionPolicy
from model_repo.releases import parse_models
from tests.artifacts import publish_tiny


@pytest.mark.parametrize(
    ("body", "live"),
    [
        ({}, {5}),
        ({"version_policy": {"latest": 2}}, {4, 5}),
        ({"version_policy": {"all": True}}, {1, 2, 3, 4, 5}),
        ({"version_policy": {"specific": [3, 1, 9]}}, {1, 3}),
    ],
)
def test_version_policies_select(body: dict, live: set[int]) -> None:
    config = ModelConfig.from_dict(body)
    assert config.version_policy.select([1, 2, 3, 4, 5]) == live
    assert ModelConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "must be a JSON object"),
        ({"policy": {}}, "unknown field(s) in model config: policy"),
        ({"version_policy": {"latest": 0}}, "latest must be a positive integer"),
        ({"version_policy": {"latest": True}}, "latest must be a positive integer"),
        ({"version_policy": {"all": False}}, "version_policy must be one of"),
        ({"version_policy": {"latest": 1, "all": True}}, "version_policy must be one of"),
        ({"version_policy": {"specific": []}}, "non-empty list"),
        ({"version_policy": {"specific": [1, "2"]}}, "positive integers, got '2'"),
        ({"preserve": "speed"}, "preserve must be 'availability' or 'resources'"),
    ],
)
def test_bad_configs_are_refused(body: object, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
        ModelConfig.from_dict(body)


def test_config_is_stored_atomically_and_a_corrupt_one_is_named(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "m")
    assert repo.config("m") == ModelConfig()
    config = ModelConfig(VersionPolicy(latest=3), Preserve.RESOURCES)
    repo.set_config("m", config)
    assert repo.config("m") == config
    assert json.loads((tmp_path / "m" / "config.json").read_text())["preserve"] == "resources"
    with pytest.raises(NotFound, match="model 'x' not found"):
        repo.set_config("x", config)
    (tmp_path / "m" / "config.json").write_text('{"version_policy": 3}')
    with pytest.raises(RepositoryError, match=r"config\.json is not a valid model config"):
        repo.config("m")


def test_releases_get_revisions_and_protect_their_versions(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    for name in ("emb", "rank"):
        publish_tiny(repo, name)
        publish_tiny(repo, name, 2.0)
    first = repo.releases.set("search", {"emb": 1, "rank": 2})
    other = repo.releases.set("other", {"emb": 2})
    again = repo.releases.set("search", {"emb": 2, "rank": 2})
    assert (first.revision, other.revision, again.revision) == (1, 2, 3)
    assert repo.releases.get("search").models == {"emb": 2, "rank": 2}
    assert repo.releases.pins("emb") == {2}
    assert sorted(repo.releases.all()) == ["other", "search"]
    with pytest.raises(Conflict, match="pinned by release\\(s\\) other, search"):
        repo.delete_version("emb", 2)
    repo.delete_version("emb", 1)  # no release pins it any more
    repo.releases.delete("other")
    with pytest.raises(NotFound, match="no release 'other' \\(releases: search\\)"):
        repo.releases.get("other")
    assert repo.releases.set("other", {"rank": 1}).revision == 4  # never reused


def test_bad_releases_are_refused(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    publish_tiny(repo, "emb")
    with pytest.raises(Conflict, match="cannot pin 'emb' version 4: no such version"):
        repo.releases.set("r", {"emb": 4})
    with pytest.raises(NotFound, match="model 'ghost' not found"):
        repo.releases.set("r", {"ghost": 1})
    assert not (tmp_path / "ghost").exists()
    with pytest.raises(InvalidArgument, match="release name 'a b' is not valid"):
        repo.releases.set("a b", {"emb": 1})
    for body, message in [
        ({}, "a release body is"),
        ({"models": {}}, "at least one model"),
        ({"models": {"emb": "1"}}, "must be a positive integer, got '1'"),
        ({"models": {"emb": 0}}, "must be a positive integer, got 0"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            parse_models(body)
    (tmp_path / ".releases.json").write_text("{")
    with pytest.raises(RepositoryError, match=r"releases\.json is corrupt"):
        repo.releases.all()


def test_shadow_targets(tmp_path: Path) -> None:
    target = AliasTarget.from_dict({"version": 1, "shadow": {"version": 2, "percent": 10}})
    assert target.shadow == Shadow(2, 10.0)
    assert target.referenced == (1, 2)
    assert AliasTarget.from_dict(target.to_dict()) == target
    for body, message in [
        ({"version": 1, "shadow": {"version": 1, "percent": 5}}, "also a primary version"),
        ({"version": 1, "shadow": {"version": 2, "percent": 0}}, "must be in \\(0, 100\\]"),
        ({"version": 1, "shadow": {"version": 2}}, "shadow must be"),
        ({"version": 1, "shadow": {"version": 2, "percent": "x"}}, "must be a number"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            AliasTarget.from_dict(body)
    repo = Repository(tmp_path)
    publish_tiny(repo, "m")
    publish_tiny(repo, "m", 2.0)
    with pytest.raises(Conflict, match="cannot point at version\\(s\\) 3"):
        repo.set_alias("m", "stable", AliasTarget(version=1, shadow=Shadow(3, 5)))
    repo.set_alias("m", "stable", AliasTarget(version=1, shadow=Shadow(2, 5)))
    with pytest.raises(Conflict, match="target of alias\\(es\\) stable"):
        repo.delete_version("m", 2)
