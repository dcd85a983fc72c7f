"""What several commands share: the repository option, and opening the repository it names."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

DEFAULT_ROOT = "./models"
REPO_ENV = "MODELPORT_REPO"

RepoOption = Annotated[
    Path | None,
    typer.Option(
        "--repo",
        envvar=REPO_ENV,
        show_default=DEFAULT_ROOT,
        help="Repository root",
    ),
]


def open_repo(root: Path | None, must_exist: bool = True) -> Any:
    """The repository at `root` ($MODELPORT_REPO, else ./models, when None).

    `must_exist`: the command reads or changes what is stored, so a root that does not exist
    is a mistake (a typo in --repo, a missing volume) to report, not an empty repository.
    Publishing creates it.
    """
    from model_repo.errors import RepositoryError
    from model_repo.repository import Repository, default_root

    path = root if root is not None else default_root()
    if must_exist and not path.exists():
        raise RepositoryError(
            f"repository {path} does not exist; give the right --repo (or set {REPO_ENV}), "
            "or publish a first model there with modelport convert"
        )
    return Repository(path)
