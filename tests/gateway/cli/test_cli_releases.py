"""`modelport releases ...` and `modelport models config ...` on a repository, in-process."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gateway.cli import app, exit_codes
from model_repo.repository import Repository
from tests.artifacts import publish_tiny


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_releases_set_show_list_delete(tmp_path: Path) -> None:
    repo = Repository(tmp_path)
    for name in ("emb", "rank"):
        publish_tiny(repo, name)
        publish_tiny(repo, name, 2.0)
    root = ("--repo", str(tmp_path))
    code, output = run("releases", "set", "search", "emb=1", "rank=2", *root)
    assert code == 0, output
    assert json.loads(output) == {"name": "search", "revision": 1, "models": {"emb": 1, "rank": 2}}
    code, output = run("releases", "set", "search", "emb=2", "rank=2", *root)
    assert json.loads(output)["revision"] == 2
    assert json.loads(run("releases", "show", "search", *root)[1])["models"]["emb"] == 2
    assert [r["name"] for r in json.loads(run("releases", "list", *root)[1])] == ["search"]
    assert run("releases", "set", "x", "emb", *root)[0] == exit_codes.USAGE
    code, output = run("releases", "set", "x", "emb=7", *root)
    assert code == 10 and "cannot pin 'emb' version 7" in output  # Conflict
    assert run("releases", "delete", "search", *root) == (0, "deleted release search\n")
    code, output = run("releases", "show", "search", *root)
    assert code == 9 and "no release 'search'" in output  # NotFound


def test_models_config_shows_and_sets_the_version_policy(tmp_path: Path) -> None:
    publish_tiny(Repository(tmp_path), "m")
    root = ("--repo", str(tmp_path))
    code, output = run("models", "config", "m", *root)
    assert code == 0 and json.loads(output)["version_policy"] == {"latest": 1}
    setting = ("--specific", "1,3", "--preserve", "resources")
    code, output = run("models", "config", "m", *setting, *root)
    assert json.loads(output) == {
        "name": "m",
        "version_policy": {"specific": [1, 3]},
        "preserve": "resources",
    }
    code, output = run("models", "config", "m", "--all", *root)
    assert json.loads(output)["version_policy"] == {"all": True}
    assert json.loads(output)["preserve"] == "resources"  # kept
    code, output = run("models", "config", "m", "--latest", "2", "--all", *root)
    assert code == exit_codes.USAGE and "give one of --latest, --all, --specific" in output
    code, output = run("models", "config", "m", "--preserve", "speed", *root)
    assert code == exit_codes.USAGE and "preserve must be" in output
