"""Release groups: a named set of pinned versions, one per model, stored with the models.

All releases live in one document, `<root>/.releases.json`, replaced atomically (on S3:
conditionally on its ETag, so a writer that lost its lock cannot overwrite another's change):

```json
{"revision": 7,
 "releases": {"search": {"revision": 7, "models": {"embedder": 3, "ranker": 5}}}}
```

Every change to a release gives it a new revision from one counter shared by all releases,
so a (release, revision) pair names one set of versions forever, even across a delete and a
re-create. A release is written while the locks of all its models are held (in name order,
then the releases lock), and a version is deleted under its model's lock after checking the
releases, so a release never pins a version that is gone.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from model_repo._storage import Doc, Storage
from model_repo.errors import Conflict, InvalidArgument, NotFound, RepositoryError

RELEASES_FILE = ".releases.json"
RELEASE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def check_release_name(name: str) -> str:
    if not RELEASE_PATTERN.match(name):
        raise InvalidArgument(f"release name {name!r} is not valid: use 1-64 of [A-Za-z0-9_-]")
    return name


@dataclass(frozen=True)
class Release:
    name: str
    revision: int
    pinned: tuple[tuple[str, int], ...]  # (model, version), sorted by model

    @property
    def models(self) -> dict[str, int]:
        return dict(self.pinned)

    def version_of(self, model: str) -> int | None:
        for name, version in self.pinned:
            if name == model:
                return version
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "revision": self.revision, "models": self.models}


def parse_models(body: Any) -> dict[str, int]:
    """The `{"models": {"embedder": 3, ...}}` body of a release, checked."""
    if not isinstance(body, dict) or set(body) != {"models"}:
        raise InvalidArgument('a release body is {"models": {"<model>": <version>, ...}}')
    models = body["models"]
    if not isinstance(models, dict) or not models:
        raise InvalidArgument("a release needs at least one model: version pair in 'models'")
    for model, version in models.items():
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise InvalidArgument(
                f"version of {model!r} in the release must be a positive integer, got {version!r}"
            )
    return dict(models)


class ReleaseStore:
    """The releases of one repository."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def all(self) -> dict[str, Release]:
        return self._read()[1]

    def get(self, name: str) -> Release:
        release = self.all().get(check_release_name(name))
        if release is None:
            raise NotFound(f"no release {name!r} (releases: {self._listed()})")
        return release

    def pins(self, model: str) -> set[int]:
        """Versions of `model` that some release pins."""
        return {v for r in self.all().values() if (v := r.version_of(model)) is not None}

    def set(self, name: str, models: Mapping[str, int]) -> Release:
        check_release_name(name)
        with self._locked(sorted(models)):  # an unknown model is refused by its lock
            for model, version in models.items():
                self._check_exists(model, version)
            revision, releases, doc = self._read()
            release = Release(name, revision + 1, tuple(sorted(models.items())))
            releases[name] = release
            self._write(doc, release.revision, releases)
        return release

    def delete(self, name: str) -> None:
        with self._locked([]):
            revision, releases, doc = self._read()
            if releases.pop(check_release_name(name), None) is None:
                raise NotFound(f"no release {name!r} (releases: {self._listed()})")
            self._write(doc, revision, releases)

    # ---- internals ---------------------------------------------------------------------

    def _check_exists(self, model: str, version: int) -> None:
        stored = self.storage.versions(model)
        if not stored:
            raise self.storage.unknown_model(model)
        if version not in stored:
            raise Conflict(
                f"a release cannot pin {model!r} version {version}: no such version "
                f"(versions: {', '.join(map(str, stored))})"
            )

    @contextlib.contextmanager
    def _locked(self, models: list[str]) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            for model in models:  # sorted: two writers take them in the same order
                stack.enter_context(self.storage.model_lock(model))
            stack.enter_context(self.storage.releases_lock())
            yield

    def _read(self) -> tuple[int, dict[str, Release], Doc]:
        doc = self.storage.read_doc(RELEASES_FILE, RepositoryError, "release file")
        if doc.body is None:
            return 0, {}, doc
        try:
            releases = {
                name: Release(name, int(body["revision"]), _pairs(body["models"]))
                for name, body in doc.body["releases"].items()
            }
            return int(doc.body["revision"]), releases, doc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RepositoryError(f"release file {doc.where} is corrupt: {exc!r}") from exc

    def _write(self, doc: Doc, revision: int, releases: dict[str, Release]) -> None:
        body = {
            "revision": revision,
            "releases": {
                name: {"revision": r.revision, "models": r.models}
                for name, r in sorted(releases.items())
            },
        }
        self.storage.write_doc(doc, body)

    def _listed(self) -> str:
        return ", ".join(sorted(self.all())) or "none"


def _pairs(models: Mapping[str, Any]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((str(m), int(v)) for m, v in models.items()))
