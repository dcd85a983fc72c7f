"""The versioned model repository on a local filesystem.

Layout: `<root>/<model>/<version>/` holds `manifest.json` and the artifact; aliases live in
`<root>/<model>/aliases.json`, the serving config in `<root>/<model>/config.json` (see
`model_config`), release groups in `<root>/.releases.json` (see `releases`). A version is
staged under `<root>/.staging/`, hashed, fsynced and renamed into place while the model's
lock is held, so a reader never sees half a version and two publishers never get the same
number. A publisher that dies leaves only its staging
dir, which the next `Repository(...)` removes once nobody holds its lock.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from model_repo._fs import (
    acquire_lock,
    exclusive_lock,
    fsync_path,
    fsync_tree,
    hash_tree,
    sha256_file,
    try_lock,
    write_atomic,
)
from model_repo.aliases import AliasTarget, check_alias_name
from model_repo.errors import (
    Conflict,
    IntegrityError,
    InvalidArgument,
    NotFound,
    NotWritable,
    RepositoryError,
)
from model_repo.formats import Predictor, get_format
from model_repo.manifest import MANIFEST_FILE, Manifest
from model_repo.model_config import CONFIG_FILE, ModelConfig
from model_repo.releases import ReleaseStore

STAGING_DIR = ".staging"
TRASH_DIR = ".trash"
ALIASES_FILE = "aliases.json"
LOCK_FILE = ".lock"
LAST_VERSION_FILE = ".last_version"
_CONTENT = "content"
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
DEFAULT_ALIAS = "stable"


def check_model_name(name: str) -> str:
    if not MODEL_NAME_PATTERN.match(name) or ".." in name:
        raise InvalidArgument(
            f"model name {name!r} is not valid: use 1-128 of [A-Za-z0-9_.-], "
            "starting with a letter or digit"
        )
    return name


def default_root() -> Path:
    return Path(os.environ.get("MODELPORT_REPO", "models"))


class Repository:
    """A repository rooted at a local directory (created on first write)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_root()
        if self.root.exists() and not self.root.is_dir():
            raise RepositoryError(f"repository root {self.root} exists and is not a directory")
        self.releases = ReleaseStore(self)
        self._clean_abandoned()

    # ---- reading -------------------------------------------------------------------------

    def models(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and MODEL_NAME_PATTERN.match(p.name)
        )

    def versions(self, name: str) -> list[int]:
        model_dir = self._model_dir(name)
        if not model_dir.is_dir():
            return []
        return sorted(
            int(p.name)
            for p in model_dir.iterdir()
            if p.name.isdigit() and (p / MANIFEST_FILE).is_file()
        )

    def manifest(self, name: str, version: int) -> Manifest:
        path = self.version_dir(name, version) / MANIFEST_FILE
        if not path.is_file():
            raise self._missing_version(name, version)
        return Manifest.load(path)

    def version_dir(self, name: str, version: int) -> Path:
        return self._model_dir(name) / str(version)

    def artifact_path(self, name: str, version: int) -> Path:
        return self.version_dir(name, version) / self.manifest(name, version).artifact

    def latest(self, name: str) -> int:
        versions = self.versions(name)
        if not versions:
            raise NotFound(f"model {name!r} not found in {self.root}")
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
        if isinstance(ref, int) or ref.isdigit():
            version = int(ref)
            if version not in self.versions(name):
                raise self._missing_version(name, version)
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
        except OSError as exc:
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
    def stage(self, name: str) -> Iterator[Staging]:
        """A private directory to build a version in; removed on exit whatever happens."""
        check_model_name(name)
        staging_root = self._writable_dir(self.root / STAGING_DIR)
        box = staging_root / f"{os.getpid()}-{uuid.uuid4().hex}"
        box.mkdir()
        lock_fd = acquire_lock(box / LOCK_FILE)
        try:
            (box / _CONTENT).mkdir()
            yield Staging(self, name, box / _CONTENT)
        finally:
            shutil.rmtree(box, ignore_errors=True)
            os.close(lock_fd)

    def set_alias(self, name: str, alias: str, target: AliasTarget) -> None:
        check_alias_name(alias)
        with self._model_lock(name):
            known = set(self.versions(name))
            if not known:
                raise NotFound(f"model {name!r} not found in {self.root}")
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
        with self._model_lock(name):
            aliases = self.aliases(name)
            if alias not in aliases:
                raise NotFound(f"model {name!r} has no alias {alias!r}")
            del aliases[alias]
            self._write_aliases(name, aliases)

    def aliases(self, name: str) -> dict[str, AliasTarget]:
        path = self._model_dir(name) / ALIASES_FILE
        if not path.is_file():
            return {}
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return {alias: AliasTarget.from_dict(t) for alias, t in raw.items()}
        except (ValueError, AttributeError) as exc:
            raise RepositoryError(f"{path} is corrupt: {exc}") from exc

    def config(self, name: str) -> ModelConfig:
        """The model's serving config; the defaults when it has no config.json."""
        path = self._model_dir(name) / CONFIG_FILE
        if not path.is_file():
            return ModelConfig()
        try:
            return ModelConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, InvalidArgument) as exc:
            raise RepositoryError(f"{path} is not a valid model config: {exc}") from exc

    def set_config(self, name: str, config: ModelConfig) -> None:
        if not self.versions(name):
            raise NotFound(f"model {name!r} not found in {self.root}")
        with self._model_lock(name) as model_dir:
            data = (json.dumps(config.to_dict(), indent=2) + "\n").encode()
            write_atomic(model_dir / CONFIG_FILE, data)

    def delete_version(self, name: str, version: int) -> None:
        """Remove a version; refused while an alias points at it."""
        with self._model_lock(name):
            if version not in self.versions(name):
                raise self._missing_version(name, version)
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
            trash = self._writable_dir(self.root / TRASH_DIR)
            doomed = trash / f"{name}-{version}-{uuid.uuid4().hex}"
            self.version_dir(name, version).rename(doomed)
            fsync_path(self._model_dir(name))
        shutil.rmtree(doomed, ignore_errors=True)

    # ---- internals -----------------------------------------------------------------------

    def _model_dir(self, name: str) -> Path:
        return self.root / check_model_name(name)

    def _missing_version(self, name: str, version: int) -> NotFound:
        versions = self.versions(name)
        if not versions:
            return NotFound(f"model {name!r} not found in {self.root}")
        listed = ", ".join(map(str, versions))
        return NotFound(f"model {name!r} has no version {version} (versions: {listed})")

    @contextlib.contextmanager
    def _model_lock(self, name: str) -> Iterator[Path]:
        model_dir = self._writable_dir(self._model_dir(name))
        with exclusive_lock(model_dir / LOCK_FILE):
            yield model_dir

    def _writable_dir(self, path: Path) -> Path:
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / f".probe-{uuid.uuid4().hex}"
            probe.touch()
            probe.unlink()
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise NotWritable(
                f"repository {self.root} is not writable ({path}: {reason}); "
                "fix its permissions or choose another root with --repo / MODELPORT_REPO"
            ) from exc
        return path

    def _write_aliases(self, name: str, aliases: dict[str, AliasTarget]) -> None:
        body = {a: t.to_dict() for a, t in sorted(aliases.items())}
        data = (json.dumps(body, indent=2) + "\n").encode()
        write_atomic(self._model_dir(name) / ALIASES_FILE, data)

    def _next_version(self, model_dir: Path) -> int:
        counter = model_dir / LAST_VERSION_FILE
        last = int(counter.read_text()) if counter.is_file() else 0
        existing = self.versions(model_dir.name)
        return max([last, *existing]) + 1

    def _clean_abandoned(self) -> None:
        """Remove staging dirs of publishers that died, and half-deleted versions."""
        for holder in (STAGING_DIR, TRASH_DIR):
            parent = self.root / holder
            if not parent.is_dir():
                continue
            for box in parent.iterdir():
                fd = try_lock(box / LOCK_FILE) if holder == STAGING_DIR else None
                if holder == STAGING_DIR and fd is None and (box / LOCK_FILE).exists():
                    continue  # a live publisher holds it
                try:
                    shutil.rmtree(box) if box.is_dir() else box.unlink()
                except OSError as exc:
                    if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT):
                        raise
                finally:
                    if fd is not None:
                        os.close(fd)


class Staging:
    """A version under construction: write the artifact into `path`, then `publish`."""

    def __init__(self, repo: Repository, name: str, path: Path) -> None:
        self.repo = repo
        self.name = name
        self.path = path
        self.published: Manifest | None = None

    def file_hashes(self) -> dict[str, str]:
        return hash_tree(self.path, exclude=frozenset({MANIFEST_FILE}))

    def publish(self, draft: Manifest) -> Manifest:
        """Number the version and move it into place atomically; returns the final manifest."""
        if self.published is not None:
            raise RepositoryError("this staging area was already published")
        if draft.name != self.name:
            raise InvalidArgument(f"manifest names {draft.name!r}, staging is for {self.name!r}")
        if not (self.path / draft.artifact).exists():
            raise InvalidArgument(f"artifact {draft.artifact!r} was not written to staging")
        files = self.file_hashes()
        fsync_tree(self.path)
        with self.repo._model_lock(self.name) as model_dir:
            version = self.repo._next_version(model_dir)
            manifest = draft.published(version, files)
            manifest_path = self.path / MANIFEST_FILE
            manifest_path.write_text(manifest.to_json(), encoding="utf-8")
            fsync_path(manifest_path)
            fsync_path(self.path)
            self.path.rename(model_dir / str(version))
            fsync_path(model_dir)
            write_atomic(model_dir / LAST_VERSION_FILE, str(version).encode())
        self.published = manifest
        return manifest


def source_digest(path: Path) -> str:
    """sha256 of a source model file, or of a directory's files in path order."""
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for rel, sha in sorted(hash_tree(path).items()):
        digest.update(f"{rel}\0{sha}\n".encode())
    return digest.hexdigest()
