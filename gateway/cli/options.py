"""What several commands share: the repository option, and opening the repository it names."""

from __future__ import annotations

from typing import Annotated, Any

import typer

DEFAULT_ROOT = "./models"
REPO_ENV = "MODELPORT_REPO"

# Text, not a Path: an s3://bucket/prefix URL would lose a slash as a Path.
RepoOption = Annotated[
    str | None,
    typer.Option(
        "--repo",
        envvar=REPO_ENV,
        show_default=DEFAULT_ROOT,
        help="Repository root: a directory or s3://bucket/prefix",
    ),
]


def open_repo(root: str | None, must_exist: bool = True) -> Any:
    """The repository at `root` ($MODELPORT_REPO, else ./models, when None).

    `must_exist`: the command reads or changes what is stored, so a root that does not exist
    (a directory, or an S3 bucket) is a mistake (a typo in --repo, a missing volume) to
    report, not an empty repository. Publishing creates a directory (never a bucket).
    """
    from model_repo.errors import RepositoryError
    from model_repo.repository import Repository

    repository = Repository(root)
    if must_exist and not repository.exists():
        raise RepositoryError(
            f"repository {repository.root} does not exist; give the right --repo (or set "
            f"{REPO_ENV}), or publish a first model there with modelport convert"
        )
    return repository
