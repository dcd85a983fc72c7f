"""`modelport releases ...` and `modelport models config ...`: release groups and version
policies, written straight into the repository (`--repo`).

A running gateway notices the change at its next poll (within `--poll-interval`, 1 s by
default): it loads every new version first, then switches. Over HTTP the same changes go
through `PUT /v2/repository/releases/{r}` and `PUT /v2/repository/models/{m}/config`, which
also refuse versions that cannot load.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

import typer
from rich.console import Console

from gateway.cli.options import RepoOption, open_repo
from model_repo.errors import InvalidArgument

out = Console()
Decorator = Callable[[Callable[..., None]], Callable[..., None]]


def add_commands(app: typer.Typer, models_app: typer.Typer, reports_errors: Decorator) -> None:
    releases = typer.Typer(
        help="Release groups: pinned versions of several models, switched as one.",
        no_args_is_help=True,
    )
    releases.command("set")(reports_errors(releases_set))
    releases.command("show")(reports_errors(releases_show))
    releases.command("list")(reports_errors(releases_list))
    releases.command("delete")(reports_errors(releases_delete))
    app.add_typer(releases, name="releases")
    models_app.command("config")(reports_errors(models_config))


def releases_set(
    name: Annotated[str, typer.Argument(help="Release name")],
    pins: Annotated[list[str], typer.Argument(help="MODEL=VERSION, one per model")],
    repo: RepoOption = None,
) -> None:
    """Pin MODEL=VERSION pairs as release NAME (a new revision; atomic)."""
    from model_repo.releases import parse_models

    models = parse_models({"models": dict(_pin(p) for p in pins)})
    release = open_repo(repo).releases.set(name, models)
    out.print_json(json.dumps(release.to_dict()))


def releases_show(name: str, repo: RepoOption = None) -> None:
    """Print one release: revision and pinned versions."""
    out.print_json(json.dumps(open_repo(repo).releases.get(name).to_dict()))


def releases_list(repo: RepoOption = None) -> None:
    """Print every release."""
    stored = open_repo(repo).releases.all()
    out.print_json(json.dumps([r.to_dict() for _, r in sorted(stored.items())]))


def releases_delete(name: str, repo: RepoOption = None) -> None:
    """Delete a release (requests naming it get 404 once the gateway notices)."""
    open_repo(repo).releases.delete(name)
    out.print(f"deleted release {name}")


def models_config(
    name: str,
    latest: Annotated[int | None, typer.Option(min=1, help="Keep the N newest live")] = None,
    all_versions: Annotated[bool, typer.Option("--all", help="Keep every version live")] = False,
    specific: Annotated[str | None, typer.Option(help="Keep these versions live, e.g. 1,3")] = None,
    preserve: Annotated[
        str | None, typer.Option(help="availability (load new first) or resources")
    ] = None,
    repo: RepoOption = None,
) -> None:
    """Show a model's version policy, or set it with --latest/--all/--specific/--preserve."""
    from model_repo.model_config import ModelConfig

    repository = open_repo(repo)
    config = repository.config(name)
    policies = [p for p in (latest, all_versions or None, specific) if p is not None]
    if len(policies) > 1:
        raise InvalidArgument("give one of --latest, --all, --specific")
    if policies or preserve is not None:
        body = config.to_dict()
        if latest is not None:
            body["version_policy"] = {"latest": latest}
        elif all_versions:
            body["version_policy"] = {"all": True}
        elif specific is not None:
            body["version_policy"] = {"specific": _versions(specific)}
        if preserve is not None:
            body["preserve"] = preserve
        config = ModelConfig.from_dict(body)
        repository.set_config(name, config)
    out.print_json(json.dumps({"name": name, **config.to_dict()}))


def _pin(text: str) -> tuple[str, int]:
    model, sep, version = text.partition("=")
    if not sep or not version.isdigit():
        raise InvalidArgument(f"expected MODEL=VERSION, got {text!r}")
    return model, int(version)


def _versions(text: str) -> list[int]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() for p in parts):
        raise InvalidArgument(f"--specific takes versions like 1,3, got {text!r}")
    return [int(p) for p in parts]
