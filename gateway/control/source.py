"""Which versions of a model should be live, read from the repository.

The model's version policy (`config.json`: latest N, all, specific; default latest 1)
chooses versions; every version an alias or a release points at is live too, so that
`versions/{alias}` and release requests always answer. Requests without a version go to
the `stable` alias, else to the newest version the policy keeps. Leaving a version out of
`live` means: unload it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from model_repo.aliases import AliasTarget
from model_repo.errors import RepositoryError
from model_repo.model_config import Preserve
from model_repo.repository import DEFAULT_ALIAS, Repository


@dataclass(frozen=True)
class DesiredModel:
    name: str
    stored: tuple[int, ...]  # every published version, ascending
    aliases: Mapping[str, AliasTarget]
    default: AliasTarget | None  # None when nothing is stored
    live: frozenset[int]  # what should be loaded
    preserve: Preserve = Preserve.AVAILABILITY


def desired(repo: Repository, name: str) -> DesiredModel:
    stored = tuple(repo.versions(name))
    if not stored:
        return DesiredModel(name, (), {}, None, frozenset())
    config = repo.config(name)
    aliases = repo.aliases(name)
    chosen = config.version_policy.select(stored)
    default = aliases.get(DEFAULT_ALIAS) or AliasTarget(version=max(chosen or stored))
    live = {*chosen, *default.versions, *_release_pins(repo, name)}
    for target in aliases.values():
        live.update(target.referenced)
    return DesiredModel(
        name, stored, aliases, default, frozenset(live & set(stored)), config.preserve
    )


def _release_pins(repo: Repository, name: str) -> set[int]:
    """Versions of `name` the stored releases pin; none while `.releases.json` is corrupt.

    A broken release file must not stop every model from following its own versions and
    aliases: the release switch reports it (and keeps serving the releases it had), and
    the manager keeps what those served releases pin live on its own.
    """
    try:
        return repo.releases.pins(name)
    except RepositoryError:
        return set()
