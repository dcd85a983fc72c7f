"""Which versions of a model should be live, read from the repository.

One policy for now, the usual default (latest 1): the latest version, plus every version an
alias points at, so that `versions/{alias}` always answers. Requests without a version go
to the `stable` alias, else to the latest. A watching Source with per-model policies
(latest N, all, specific) can replace this module: the manager only needs `DesiredModel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from model_repo.aliases import AliasTarget
from model_repo.repository import DEFAULT_ALIAS, Repository


@dataclass(frozen=True)
class DesiredModel:
    name: str
    stored: tuple[int, ...]  # every published version, ascending
    aliases: Mapping[str, AliasTarget]
    default: AliasTarget | None  # None when nothing is stored
    live: frozenset[int]  # what should be loaded


def desired(repo: Repository, name: str) -> DesiredModel:
    stored = tuple(repo.versions(name))
    if not stored:
        return DesiredModel(name, (), {}, None, frozenset())
    aliases = repo.aliases(name)
    default = aliases.get(DEFAULT_ALIAS) or AliasTarget(version=stored[-1])
    live = {stored[-1], *default.versions}
    for target in aliases.values():
        live.update(target.versions)
    return DesiredModel(name, stored, aliases, default, frozenset(live & set(stored)))
