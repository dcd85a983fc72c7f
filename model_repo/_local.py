"""A repository in a local directory: the storage behind `Repository(path)`.

A version is built in a staging box, fsynced, then numbered and renamed into
`<root>/<model>/<n>` while the model's flock is held (see `staging`); documents are
replaced atomically (`_fs.write_atomic`) under that lock, so no conditional write is
needed; a delete renames the version into `.trash` first, so it disappears at once.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from model_repo._fs import (
    exclusive_lock,
    fsync_path,
    fsync_tree,
    is_recent,
    remove_quietly,
    write_atomic,
)
from model_repo._jsonfile import read_object, write_object
from model_repo._layout import PROBE_PREFIX, ModelLayout
from model_repo._names import MODEL_NAME_PATTERN
from model_repo._storage import Doc
from model_repo.errors import ModelportError, RepositoryError
from model_repo.manifest import MANIFEST_FILE, Manifest
from model_repo.staging import (
    GRACE_S,
    LAST_VERSION_FILE,
    STAGING_DIR,
    check_version_free,
    clean_abandoned_boxes,
    last_given,
    staging_box,
)

TRASH_DIR = ".trash"
RELEASES_LOCK = ".releases.lock"


class LocalStorage(ModelLayout):
    remote = False

    def __init__(self, root: Path) -> None:
        if root.exists() and not root.is_dir():
            raise RepositoryError(f"repository root {root} exists and is not a directory")
        super().__init__(root)
        self.location = str(root)

    def exists(self) -> bool:
        return self.root.exists()

    def model_names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and MODEL_NAME_PATTERN.match(p.name)
        )

    def manifest(self, name: str, version: int) -> Manifest:
        path = self.version_dir(name, version) / MANIFEST_FILE
        if not path.is_file():
            raise self.missing_version(name, version)
        return Manifest.load(path)

    def read_doc(self, key: str, error: type[ModelportError], what: str) -> Doc:
        path = self.root / key
        body = read_object(path, error, what) if path.is_file() else None
        return Doc(key, str(path), body)

    def write_doc(self, doc: Doc, body: dict[str, Any]) -> None:
        write_object(self.root / doc.key, body)  # the caller holds the lock

    @contextlib.contextmanager
    def releases_lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with exclusive_lock(self.root / RELEASES_LOCK):
            yield

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        with staging_box(self.writable_dir(self.root / STAGING_DIR)) as content:
            yield content

    def publish(
        self, name: str, content: Path, draft: Manifest, files: dict[str, str], version: int | None
    ) -> Manifest:
        """Number the staged version and rename it into place under the model's lock."""
        fsync_tree(content)
        with self.model_lock(name, create=True) as model_dir:
            last = last_given(self, model_dir)
            number = last + 1 if version is None else version
            check_version_free(name, number, last)
            manifest = draft.published(number, files)
            manifest_path = content / MANIFEST_FILE
            manifest_path.write_text(manifest.to_json(), encoding="utf-8")
            fsync_path(manifest_path)
            fsync_path(content)
            content.rename(model_dir / str(number))
            fsync_path(model_dir)
            write_atomic(model_dir / LAST_VERSION_FILE, str(number).encode())
        return manifest

    def last_given(self, name: str) -> int:
        return last_given(self, self.model_dir(name))

    def version_dir(self, name: str, version: int) -> Path:
        return self.model_dir(name) / str(version)

    def local_copy(self, name: str, manifest: Manifest, fresh: bool = False) -> Path:
        return self.version_dir(name, manifest.version)  # the files are here

    def where(self, name: str, version: int) -> str:
        return str(self.version_dir(name, version))

    def remove_version(self, name: str, version: int) -> None:
        """Take the version out of the listing at once (a rename), then remove its files."""
        trash = self.writable_dir(self.root / TRASH_DIR)
        doomed = trash / f"{name}-{version}-{uuid.uuid4().hex}"
        self.version_dir(name, version).rename(doomed)
        fsync_path(self.model_dir(name))
        shutil.rmtree(doomed, ignore_errors=True)

    def clean_abandoned(self) -> None:
        """Remove staging dirs of publishers that died, and half-deleted versions."""
        clean_abandoned_boxes(self.root / STAGING_DIR)
        trash = self.root / TRASH_DIR
        if trash.is_dir():
            for doomed in trash.iterdir():
                if doomed.name.startswith(PROBE_PREFIX) and is_recent(doomed, GRACE_S):
                    continue  # a deleting writer's writability probe, not trash
                remove_quietly(doomed)
