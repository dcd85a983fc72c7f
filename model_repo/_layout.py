"""Where a repository's models live on disk, and how a writer locks one.

`Repository`, `Staging` and `ReleaseStore` all need a model's dir, the list of its
published versions and its lock. They used to get these from the `Repository` itself,
which made `staging` and `releases` import `repository` back (if only for type hints) and
call its private methods. This module owns just that shared layout, so the three depend
on it and not on one another.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from model_repo._fs import exclusive_lock, make_dirs
from model_repo._names import check_model_name, is_version_number
from model_repo.errors import NotFound, NotWritable
from model_repo.manifest import MANIFEST_FILE

LOCK_FILE = ".lock"
PROBE_PREFIX = ".probe-"


class ModelLayout:
    """The models of the repository rooted at `root`: `<root>/<model>/<version>/`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def model_dir(self, name: str) -> Path:
        return self.root / check_model_name(name)

    def versions(self, name: str) -> list[int]:
        """The model's published versions in ascending order; none for an unknown model."""
        model_dir = self.model_dir(name)
        if not model_dir.is_dir():
            return []
        return sorted(
            int(p.name)
            for p in model_dir.iterdir()
            if is_version_number(p.name) and (p / MANIFEST_FILE).is_file()
        )

    def unknown_model(self, name: str) -> NotFound:
        return NotFound(f"model {name!r} not found in {self.root}")

    def missing_version(self, name: str, version: int) -> NotFound:
        """The error for a version that is not there, naming the model if that is missing."""
        versions = self.versions(name)
        if not versions:
            return self.unknown_model(name)
        listed = ", ".join(map(str, versions))
        return NotFound(f"model {name!r} has no version {version} (versions: {listed})")

    @contextlib.contextmanager
    def model_lock(self, name: str, create: bool = False) -> Iterator[Path]:
        """Hold the model's lock; yields its dir. Only a publisher may `create` the model:
        any other write to an unknown model must not leave a phantom model dir behind in
        the listing."""
        model_dir = self.model_dir(name)
        if not create and not model_dir.is_dir():
            raise self.unknown_model(name)
        self.writable_dir(model_dir)
        with exclusive_lock(model_dir / LOCK_FILE):
            yield model_dir

    def writable_dir(self, path: Path) -> Path:
        """`path`, created if need be, once a probe file shows it can be written to."""
        try:
            make_dirs(path)
            probe = path / f"{PROBE_PREFIX}{uuid.uuid4().hex}"
            probe.touch()
            probe.unlink()
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise NotWritable(
                f"repository {self.root} is not writable ({path}: {reason}); "
                "fix its permissions or choose another root with --repo / MODELPORT_REPO"
            ) from exc
        return path
