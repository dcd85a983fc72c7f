"""What a `Repository` needs from the place it is stored in: the storage interface.

Two kinds sit behind it, chosen by the root: a local directory (`_local.LocalStorage`:
versions renamed into place, flocks) and an `s3://bucket/prefix` (`_s3storage.S3Storage`:
numbers claimed by conditional creates, files then the manifest, lock objects, documents
replaced on their ETag). The `Repository` holds the rules (what may point at what, which
version a reference names, what a checksum mismatch means) and works the same on both.

Keys name things relative to the root, as paths do locally: `<model>/aliases.json`,
`<model>/config.json`, `.releases.json`.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from model_repo.errors import ModelportError, NotFound
from model_repo.manifest import Manifest

ALIASES_FILE = "aliases.json"


@dataclass(frozen=True)
class Doc:
    """A small JSON document as read: its body (None when absent) and what a conditional
    replace needs (the ETag on S3; nothing locally, where a lock is held instead)."""

    key: str
    where: str  # the path or URL, for messages
    body: dict[str, Any] | None
    token: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """What a change-watcher compares between two looks at object storage: per model, the
    ETags of its manifests, aliases and config; the ETag of the releases document."""

    models: dict[str, tuple[tuple[str, str], ...]]
    releases: str | None
    requests: int  # what the look cost


class Storage(Protocol):
    location: str  # the root as users wrote it, for messages
    remote: bool  # versions are opened from a verified local copy

    def exists(self) -> bool: ...

    def model_names(self) -> list[str]: ...

    def versions(self, name: str) -> list[int]: ...

    def unknown_model(self, name: str) -> NotFound: ...

    def missing_version(self, name: str, version: int) -> NotFound: ...

    def manifest(self, name: str, version: int) -> Manifest: ...

    def read_doc(self, key: str, error: type[ModelportError], what: str) -> Doc: ...

    def write_doc(self, doc: Doc, body: dict[str, Any]) -> None: ...

    def model_lock(self, name: str) -> AbstractContextManager[object]: ...

    def releases_lock(self) -> AbstractContextManager[None]: ...

    def staging(self) -> AbstractContextManager[Path]: ...

    def publish(
        self, name: str, content: Path, draft: Manifest, files: dict[str, str], version: int | None
    ) -> Manifest: ...

    def last_given(self, name: str) -> int: ...

    def version_dir(self, name: str, version: int) -> Path: ...

    def local_copy(self, name: str, manifest: Manifest, fresh: bool = False) -> Path:
        """The local dir holding the version's files; `name` is the model's name here,
        which a linked model dir (modelport kserve) may give otherwise than its manifest."""
        ...

    def where(self, name: str, version: int) -> str: ...

    def remove_version(self, name: str, version: int) -> None: ...

    def clean_abandoned(self) -> None: ...


def unknown_model(location: str, name: str) -> NotFound:
    return NotFound(f"model {name!r} not found in {location}")


def missing_version(location: str, name: str, version: int, versions: list[int]) -> NotFound:
    """The error for a version that is not there, naming the model if that is missing."""
    if not versions:
        return unknown_model(location, name)
    listed = ", ".join(map(str, versions))
    return NotFound(f"model {name!r} has no version {version} (versions: {listed})")
