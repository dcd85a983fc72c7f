"""The versioned model repository on a local filesystem.

Layout: `<root>/<model>/<version>/` holds `manifest.json` and the artifact; aliases live in
`<root>/<model>/aliases.json`, the serving config in `<root>/<model>/config.json` (see
`model_config`), release groups in `<root>/.releases.json` (see `releases`). A version is
staged under `<root>/.staging/` (see `staging`), hashed, fsynced and renamed into place
while the model's lock is held, so a reader never sees half a version and two publishers
never get the same number. A publisher that dies leaves only its staging dir, which the
next `Repository(...)` removes once nobody holds its lock. Only publishing creates a model:
every other write to an unknown model is refused before anything is created. Model dirs,
version listings and model locks are shared with `staging` and `releases` via `_layout`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from model_repo._fs import fsync_path, hash_tree, is_recent, remove_quietly, sha256_file
from model_repo._jsonfile import read_object, write_object
from model_repo._layout import PROBE_PREFIX, ModelLayout
from model_repo._names import MODEL_NAME_PATTERN, check_model_name, is_version_number
from model_repo.aliases import AliasTarget, check_alias_name
from model_repo.errors import (
    ArtifactError,
    Conflict,
    IntegrityError,
    InvalidArgument,
    NotFound,
    RepositoryError,
)
from model_repo.formats import Predictor, get_format
from model_repo.manifest import MANIFEST_FILE, Manifest
from model_repo.model_config import CONFIG_FILE, ModelConfig
from model_repo.releases import ReleaseStore
from model_repo.staging import (
    GRACE_S,
    STAGING_DIR,
    Staging,
    check_version_free,
    clean_abandoned_boxes,
    last_given,
    staging_box,
)

TRASH_DIR = ".trash"
ALIASES_FILE = "aliases.json"
DEFAULT_ALIAS = "stable"

__all__ = [
    "ALIASES_FILE",
    "DEFAULT_ALIAS",
    "MODEL_NAME_PATTERN",
    "STAGING_DIR",
    "Repository",
    "Staging",
    "check_model_name",
    "default_root",
    "source_digest",
]


def default_root() -> Path:
    return Path(os.environ.get("MODELPORT_REPO", "models"))


class Repository:
    """A repository rooted at a local directory (created on first write)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        if self.root.exists() and not self.root.is_dir():
            raise RepositoryError(f"repository root {self.root} exists and is not a directory")
        self._layout = ModelLayout(self.root)
        self.releases = ReleaseStore(self._layout)
        self._clean_abandoned()

    # ---- reading -------------------------------------------------------------------------

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and MODEL_NAME_PATTERN.match(p.name)
        )

    def versions(self, name: str) -> list[int]:
        return self._layout.versions(name)

    def manifest(self, name: str, version: int) -> Manifest:
        path = self.version_dir(name, version) / MANIFEST_FILE
        if not path.is_file():
            raise self._layout.missing_version(name, version)
        return Manifest.load(path)

    def version_dir(self, name: str, version: int) -> Path:
        return self._layout.model_dir(name) / str(version)

    def artifact_path(self, name: str, version: int) -> Path:
        return self.version_dir(name, version) / self.manifest(name, version).artifact

    def latest(self, name: str) -> int:
        versions = self.versions(name)
        if not versions:
            raise self._layout.unknown_model(name)
        return versions[-1]

    def resolve(self, name: str, ref: str | int | None = None, key: str | None = None) -> int:
        """The version a reference names: a number, an alias, or None for the default.

        The default is the `stable` alias when set, else the latest version.
        """
        if ref is None or ref == "":
            aliases = self.aliases(name)
            if DEFAULT_ALIAS in aliases:
                return aliases[DEFAULT_ALIAS].pick(key)
            return self.latest(name)
        if isinstance(ref, int) or is_version_number(ref):
            version = int(ref)
            if version not in self.versions(name):
                raise self._layout.missing_version(name, version)
            return version
        target = self.aliases(name).get(ref)
        if target is None:
            self.latest(name)  # a missing model is named before a missing alias
            raise NotFound(f"model {name!r} has no alias {ref!r}")
        return target.pick(key)

    def verify(self, name: str, version: int) -> Manifest:
        """The manifest, after checking every file against the sha256 it records."""
        manifest = self.manifest(name, version)
        version_dir = self.version_dir(name, version)
        try:
            found = hash_tree(version_dir, exclude=frozenset({MANIFEST_FILE}))
        except (OSError, ArtifactError) as exc:  # a symlink planted in a published version
            raise IntegrityError(f"{name} version {version}: {exc}") from exc
        missing = sorted(set(manifest.files) - set(found))
        extra = sorted(set(found) - set(manifest.files))
        changed = sorted(p for p in manifest.files if p in found and found[p] != manifest.files[p])
        problems = [
            *(f"{p} is missing" for p in missing),
            *(f"{p} is not in the manifest" for p in extra),
            *(f"{p} does not match its sha256" for p in changed),
        ]
        if problems:
            raise IntegrityError(
                f"{name} version {version} was modified after publishing and is refused: "
                + "; ".join(problems)
            )
        return manifest

    def open(
        self, name: str, version: int, options: Mapping[str, Any] | None = None
    ) -> tuple[Manifest, Predictor]:
        """Verify a version's files and open it with the runtime of its format."""
        manifest = self.verify(name, version)
        artifact = self.version_dir(name, version) / manifest.artifact
        fmt = get_format(manifest.format)
        return manifest, fmt.open(artifact, manifest.signature, options)

    # ---- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def stage(self, name: str, version: int | None = None) -> Iterator[Staging]:
        """A private directory to build a version in; removed on exit whatever happens.

        `version`: the number to publish it as, refused at once (and again, under the
        model's lock, at publishing) unless it is above every number the model ever had.
        """
        check_model_name(name)
        if version is not None:
            self.check_version_free(name, version)
        with staging_box(self._layout.writable_dir(self.root / STAGING_DIR)) as content:
            yield Staging(self._layout, name, content, version)

    def check_version_free(self, name: str, version: int) -> None:
        """Conflict unless `version` may still be published (it is above every number the
        model ever had); a check before long work, made again when publishing."""
        check_version_free(name, version, last_given(self._layout, self._layout.model_dir(name)))

    def set_alias(self, name: str, alias: str, target: AliasTarget) -> None:
        check_alias_name(alias)
        with self._layout.model_lock(name):
            known = set(self.versions(name))
            if not known:
                raise self._layout.unknown_model(name)
            unknown = [v for v in target.referenced if v not in known]
            if unknown:
                raise Conflict(
                    f"alias {alias!r} of {name!r} cannot point at version(s) "
                    f"{', '.join(map(str, unknown))}: no such version "
                    f"(versions: {', '.join(map(str, sorted(known)))})"
                )
            aliases = self.aliases(name)
            aliases[alias] = target
            self._write_aliases(name, aliases)

    def delete_alias(self, name: str, alias: str) -> None:
        with self._layout.model_lock(name):
            aliases = self.aliases(name)
            if alias not in aliases:
                raise NotFound(f"model {name!r} has no alias {alias!r}")
            del aliases[alias]
            self._write_aliases(name, aliases)

    def aliases(self, name: str) -> dict[str, AliasTarget]:
        path = self._layout.model_dir(name) / ALIASES_FILE
        if not path.is_file():
            return {}
        raw = read_object(path, RepositoryError, "alias file")
        try:
            return {check_alias_name(a): AliasTarget.from_dict(t) for a, t in raw.items()}
        except InvalidArgument as exc:
            raise RepositoryError(f"alias file {path} is corrupt: {exc}") from exc

    def config(self, name: str) -> ModelConfig:
        """The model's serving config; the defaults when it has no config.json."""
        path = self._layout.model_dir(name) / CONFIG_FILE
        if not path.is_file():
            return ModelConfig()
        raw = read_object(path, RepositoryError, "model config")
        try:
            return ModelConfig.from_dict(raw)
        except InvalidArgument as exc:
            raise RepositoryError(f"{path} is not a valid model config: {exc}") from exc

    def set_config(self, name: str, config: ModelConfig) -> None:
        with self._layout.model_lock(name) as model_dir:
            if not self.versions(name):
                raise self._layout.unknown_model(name)
            write_object(model_dir / CONFIG_FILE, config.to_dict())

    def delete_version(self, name: str, version: int) -> None:
        """Remove a version; refused while an alias or a stored release points at it."""
        with self._layout.model_lock(name):
            if version not in self.versions(name):
                raise self._layout.missing_version(name, version)
            users = [a for a, t in self.aliases(name).items() if version in t.referenced]
            if users:
                raise Conflict(
                    f"{name} version {version} is the target of alias(es) "
                    f"{', '.join(sorted(users))}; point them elsewhere first"
                )
            releases = [r for r in self.releases.all().values() if r.version_of(name) == version]
            if releases:
                raise Conflict(
                    f"{name} version {version} is pinned by release(s) "
                    f"{', '.join(r.name for r in releases)}; change them first"
                )
            trash = self._layout.writable_dir(self.root / TRASH_DIR)
            doomed = trash / f"{name}-{version}-{uuid.uuid4().hex}"
            self.version_dir(name, version).rename(doomed)
            fsync_path(self._layout.model_dir(name))
        shutil.rmtree(doomed, ignore_errors=True)

    # ---- internals -----------------------------------------------------------------------

    def _write_aliases(self, name: str, aliases: dict[str, AliasTarget]) -> None:
        body = {a: t.to_dict() for a, t in sorted(aliases.items())}
        write_object(self._layout.model_dir(name) / ALIASES_FILE, body)

    def _clean_abandoned(self) -> None:
        """Remove staging dirs of publishers that died, and half-deleted versions."""
        clean_abandoned_boxes(self.root / STAGING_DIR)
        trash = self.root / TRASH_DIR
        if trash.is_dir():
            for doomed in trash.iterdir():
                if doomed.name.startswith(PROBE_PREFIX) and is_recent(doomed, GRACE_S):
                    continue  # a deleting writer's writability probe, not trash
                remove_quietly(doomed)


def source_digest(path: Path) -> str:
    """sha256 of a source model file, or of a directory's files in path order."""
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for rel, sha in sorted(hash_tree(path).items()):
        digest.update(f"{rel}\0{sha}\n".encode())
    return digest.hexdigest()
