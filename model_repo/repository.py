"""The versioned model repository, in a local directory or on S3-compatible storage.

Layout: `<root>/<model>/<version>/` holds `manifest.json` and the artifact; aliases live in
`<root>/<model>/aliases.json`, the serving config in `<root>/<model>/config.json` (see
`model_config`), release groups in `<root>/.releases.json` (see `releases`). The root is a
directory or an `s3://bucket/prefix` URL; the storage behind it (`_storage`: `_local` or
`_s3storage`) makes the same guarantees on both: a reader never sees half a version, two
publishers never get the same number, a publisher that dies leaves no visible version, a
number is never given twice, and two writers of one document never lose each other's
change. Only publishing creates a model: every other write to an unknown model is refused
before anything is created. This module holds the rules that are the same everywhere.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from model_repo._fs import hash_tree, sha256_file
from model_repo._local import TRASH_DIR, LocalStorage
from model_repo._names import MODEL_NAME_PATTERN, check_model_name, is_version_number
from model_repo._objects import SCHEME, is_object_url
from model_repo._storage import ALIASES_FILE, Doc, Snapshot, Storage
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
from model_repo.staging import STAGING_DIR, Staging, check_version_free

DEFAULT_ALIAS = "stable"

__all__ = [
    "ALIASES_FILE",
    "DEFAULT_ALIAS",
    "MODEL_NAME_PATTERN",
    "STAGING_DIR",
    "TRASH_DIR",
    "Repository",
    "Staging",
    "check_model_name",
    "default_root",
    "repo_root",
    "source_digest",
]

Root = Path | str  # a directory, or an s3://bucket/prefix URL


def repo_root(root: Root) -> Root:
    """`root` as a Repository takes it: an object-store URL stays text (a Path would fold
    its `//`), anything else is a path."""
    text = str(root)
    if is_object_url(text):
        return text
    if "://" in text:
        raise RepositoryError(
            f"repository root {text!r}: only local directories and {SCHEME}bucket/prefix "
            "URLs are repositories"
        )
    return Path(root)


def default_root() -> Root:
    return repo_root(os.environ.get("MODELPORT_REPO", "models"))


class Repository:
    """A repository rooted at a local directory (created on first write) or an S3 URL."""

    def __init__(self, root: Root | None = None) -> None:
        self.root: Root = repo_root(root) if root is not None else default_root()
        self.storage = _storage_for(self.root)
        self.releases = ReleaseStore(self.storage)
        self.storage.clean_abandoned()

    @property
    def remote(self) -> bool:
        """Stored away from this machine: versions are opened from a verified local copy."""
        return self.storage.remote

    def exists(self) -> bool:
        """The root is there: the directory exists, or the bucket does."""
        return self.storage.exists()

    def snapshot(self) -> Snapshot:
        """One cheap look at an object store's state, for change detection (S3 only)."""
        look = getattr(self.storage, "snapshot", None)
        if look is None:
            raise RepositoryError(f"{self.root} is a directory: watch it with stat() instead")
        snapshot: Snapshot = look()
        return snapshot

    # ---- reading -------------------------------------------------------------------------

    def models(self) -> list[str]:
        return self.storage.model_names()

    def versions(self, name: str) -> list[int]:
        return self.storage.versions(name)

    def manifest(self, name: str, version: int) -> Manifest:
        return self.storage.manifest(name, version)

    def version_dir(self, name: str, version: int) -> Path:
        """The version's files on this machine (on S3: the local copy, fetched if need be)."""
        return self.storage.version_dir(name, version)

    def where(self, name: str, version: int) -> str:
        """Where the version is stored: its directory, or its S3 URL."""
        return self.storage.where(name, version)

    def artifact_path(self, name: str, version: int) -> Path:
        return self.version_dir(name, version) / self.manifest(name, version).artifact

    def latest(self, name: str) -> int:
        versions = self.versions(name)
        if not versions:
            raise self.storage.unknown_model(name)
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
                raise self.storage.missing_version(name, version)
            return version
        target = self.aliases(name).get(ref)
        if target is None:
            self.latest(name)  # a missing model is named before a missing alias
            raise NotFound(f"model {name!r} has no alias {ref!r}")
        return target.pick(key)

    def verify(self, name: str, version: int) -> Manifest:
        """The manifest, after checking every file against the sha256 it records.

        On S3 the files checked are the local copy; one that fails is fetched again and
        checked once more before the version is refused (the copy may be what changed).
        """
        manifest = self.manifest(name, version)
        problems = self._problems(manifest, self.storage.local_copy(name, manifest))
        if problems and self.remote:
            fresh = self.storage.local_copy(name, manifest, fresh=True)
            problems = self._problems(manifest, fresh)
        if problems:
            raise IntegrityError(
                f"{name} version {version} was modified after publishing and is refused: "
                + "; ".join(problems)
                + ("" if not self.remote else f" (stored at {self.where(name, version)})")
            )
        return manifest

    def open(
        self, name: str, version: int, options: Mapping[str, Any] | None = None
    ) -> tuple[Manifest, Predictor]:
        """Verify a version's files and open it with the runtime of its format."""
        manifest = self.verify(name, version)
        artifact = self.storage.local_copy(name, manifest) / manifest.artifact
        fmt = get_format(manifest.format)
        return manifest, fmt.open(artifact, manifest.signature, options)

    # ---- writing -------------------------------------------------------------------------

    @contextlib.contextmanager
    def stage(self, name: str, version: int | None = None) -> Iterator[Staging]:
        """A private directory to build a version in; removed on exit whatever happens.

        `version`: the number to publish it as, refused at once (and again, when it is
        numbered, at publishing) unless it is above every number the model ever had.
        """
        check_model_name(name)
        if version is not None:
            self.check_version_free(name, version)
        with self.storage.staging() as content:
            yield Staging(self.storage, name, content, version)

    def check_version_free(self, name: str, version: int) -> None:
        """Conflict unless `version` may still be published (it is above every number the
        model ever had); a check before long work, made again when publishing."""
        check_version_free(name, version, self.storage.last_given(name))

    def set_alias(self, name: str, alias: str, target: AliasTarget) -> None:
        check_alias_name(alias)
        with self.storage.model_lock(name):
            known = set(self.versions(name))
            if not known:
                raise self.storage.unknown_model(name)
            unknown = [v for v in target.referenced if v not in known]
            if unknown:
                raise Conflict(
                    f"alias {alias!r} of {name!r} cannot point at version(s) "
                    f"{', '.join(map(str, unknown))}: no such version "
                    f"(versions: {', '.join(map(str, sorted(known)))})"
                )
            doc, aliases = self._aliases(name)
            aliases[alias] = target
            self._write_aliases(doc, aliases)

    def delete_alias(self, name: str, alias: str) -> None:
        with self.storage.model_lock(name):
            doc, aliases = self._aliases(name)
            if alias not in aliases:
                raise NotFound(f"model {name!r} has no alias {alias!r}")
            del aliases[alias]
            self._write_aliases(doc, aliases)

    def aliases(self, name: str) -> dict[str, AliasTarget]:
        return self._aliases(name)[1]

    def config(self, name: str) -> ModelConfig:
        """The model's serving config; the defaults when it has no config.json."""
        doc = self._config_doc(name)
        if doc.body is None:
            return ModelConfig()
        try:
            return ModelConfig.from_dict(doc.body)
        except InvalidArgument as exc:
            raise RepositoryError(f"{doc.where} is not a valid model config: {exc}") from exc

    def set_config(self, name: str, config: ModelConfig) -> None:
        with self.storage.model_lock(name):
            if not self.versions(name):
                raise self.storage.unknown_model(name)
            self.storage.write_doc(self._config_doc(name), config.to_dict())

    def delete_version(self, name: str, version: int) -> None:
        """Remove a version; refused while an alias or a stored release points at it."""
        with self.storage.model_lock(name):
            if version not in self.versions(name):
                raise self.storage.missing_version(name, version)
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
            self.storage.remove_version(name, version)

    # ---- internals -----------------------------------------------------------------------

    def _aliases(self, name: str) -> tuple[Doc, dict[str, AliasTarget]]:
        doc = self.storage.read_doc(f"{check_model_name(name)}/{ALIASES_FILE}", *_ALIAS_DOC)
        try:
            raw = doc.body or {}
            return doc, {check_alias_name(a): AliasTarget.from_dict(t) for a, t in raw.items()}
        except InvalidArgument as exc:
            raise RepositoryError(f"alias file {doc.where} is corrupt: {exc}") from exc

    def _config_doc(self, name: str) -> Doc:
        key = f"{check_model_name(name)}/{CONFIG_FILE}"
        return self.storage.read_doc(key, RepositoryError, "model config")

    def _write_aliases(self, doc: Doc, aliases: dict[str, AliasTarget]) -> None:
        self.storage.write_doc(doc, {a: t.to_dict() for a, t in sorted(aliases.items())})

    def _problems(self, manifest: Manifest, version_dir: Path) -> list[str]:
        try:
            found = hash_tree(version_dir, exclude=frozenset({MANIFEST_FILE}))
        except (OSError, ArtifactError) as exc:  # a symlink planted in a published version
            raise IntegrityError(f"{manifest.name} version {manifest.version}: {exc}") from exc
        missing = sorted(set(manifest.files) - set(found))
        extra = sorted(set(found) - set(manifest.files))
        changed = sorted(p for p in manifest.files if p in found and found[p] != manifest.files[p])
        return [
            *(f"{p} is missing" for p in missing),
            *(f"{p} is not in the manifest" for p in extra),
            *(f"{p} does not match its sha256" for p in changed),
        ]


_ALIAS_DOC = (RepositoryError, "alias file")


def _storage_for(root: Root) -> Storage:
    if isinstance(root, str):  # repo_root keeps only object-store URLs as text
        from model_repo._s3storage import S3Storage

        return S3Storage(root)
    return LocalStorage(root)


def source_digest(path: Path) -> str:
    """sha256 of a source model file, or of a directory's files in path order."""
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for rel, sha in sorted(hash_tree(path).items()):
        digest.update(f"{rel}\0{sha}\n".encode())
    return digest.hexdigest()
